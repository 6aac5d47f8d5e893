package kafka

// Group configs (KIP-848, KIP-932): DescribeConfigs and
// IncrementalAlterConfigs on GROUP resources. chronik knows the share group
// configs (share.auto.offset.reset, share.record.lock.duration.ms,
// share.delivery.count.limit, share.session.timeout.ms,
// share.heartbeat.interval.ms, share.isolation.level); they are kept by the
// group's coordinator and written through Raft (coordinator.
// AlterShareGroupConfigs). A request that reaches another broker is sent on
// to the coordinator. Other names: INVALID_CONFIG.

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-io/chronik/coordinator"
	"github.com/chronik-io/chronik/engine"
)

// alterGroupConfigs applies a GROUP resource's change on the group's
// coordinator.
func (s *Server) alterGroupConfigs(ctx context.Context, group string, ch engine.ConfigChange, validateOnly bool) error {
	set := map[string]*string{}
	for k, v := range ch.Set {
		set[k] = &v
	}
	for _, k := range ch.Unset {
		set[k] = nil
	}
	for k, v := range set {
		if !coordinator.IsShareConfig(k) {
			return kerr.InvalidConfig
		}
		if v != nil {
			if e := coordinator.ValidateShareConfig(k, *v); e != nil {
				return e
			}
		}
	}
	if validateOnly {
		return nil
	}
	return retryCoordinator(ctx, func() error { return s.alterGroupConfigsOnce(ctx, group, ch, set) })
}

// retryCoordinator calls f until it does not fail for a coordinator that
// is being created, elected or loaded, for at most 10 s: admin clients do
// not retry these codes for a GROUP config resource.
func retryCoordinator(ctx context.Context, f func() error) error {
	return retryLoading(ctx, true, f)
}

// retryLoading calls f until it does not fail with
// COORDINATOR_LOAD_IN_PROGRESS or COORDINATOR_NOT_AVAILABLE (nor, with
// notCoord, NOT_COORDINATOR), for at most 10 s: what a coordinator answers
// while __consumer_offsets is created or a partition loaded, and which
// clients do not retry for the share group admin requests.
func retryLoading(ctx context.Context, notCoord bool, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		err := f()
		if !errors.Is(err, kerr.CoordinatorNotAvailable) && !errors.Is(err, kerr.CoordinatorLoadInProgress) && (!notCoord || !errors.Is(err, kerr.NotCoordinator)) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) alterGroupConfigsOnce(ctx context.Context, group string, ch engine.ConfigChange, set map[string]*string) error {
	e := s.groups.AlterShareGroupConfigs(group, set)
	if e != kerr.NotCoordinator {
		if e != nil {
			return e
		}
		s.log.Info("altered group configs", "group", group, "set", ch.Set, "unset", ch.Unset)
		return nil
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	for _, k := range slices.Sorted(maps.Keys(set)) {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = k, set[k]
		if c.Value == nil {
			c.Op = kmsg.IncrementalAlterConfigOpDelete
		}
		res.Configs = append(res.Configs, c)
	}
	req.Resources = append(req.Resources, res)
	kresp, err := s.toShareCoordinator(ctx, group, req)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.IncrementalAlterConfigsResponse)
	if len(resp.Resources) != 1 {
		return kerr.UnknownServerError
	}
	if c := resp.Resources[0].ErrorCode; c != 0 {
		return kerr.ErrorForCode(c)
	}
	return nil
}

// describeGroupConfigs fills a GROUP resource's configs: every share group
// config, with the group's value where it was set.
func (s *Server) describeGroupConfigs(ctx context.Context, res *kmsg.DescribeConfigsResponseResource, names []string) {
	err := retryCoordinator(ctx, func() error { return s.describeGroupConfigsOnce(ctx, res, names) })
	if err != nil {
		res.Configs = nil
		res.ErrorCode, res.ErrorMessage = errorCode(err), errorMessage(err)
	}
}

func (s *Server) describeGroupConfigsOnce(ctx context.Context, res *kmsg.DescribeConfigsResponseResource, names []string) error {
	cfg, e := s.groups.ShareGroupConfigs(res.ResourceName)
	if e == kerr.NotCoordinator {
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeGroupConfig, res.ResourceName, names
		req.Resources = append(req.Resources, rr)
		kresp, err := s.toShareCoordinator(ctx, res.ResourceName, req)
		if err != nil {
			return err
		}
		resp := kresp.(*kmsg.DescribeConfigsResponse)
		if len(resp.Resources) != 1 {
			return kerr.UnknownServerError
		}
		if c := resp.Resources[0].ErrorCode; c != 0 {
			return kerr.ErrorForCode(c)
		}
		res.Configs = resp.Resources[0].Configs
		return nil
	}
	if e != nil {
		return e
	}
	defaults := s.groups.ShareDefaults()
	for _, name := range slices.Sorted(maps.Keys(defaults)) {
		if names != nil && !slices.Contains(names, name) {
			continue
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name, c.IsDefault, c.Source = name, true, kmsg.ConfigSourceDefaultConfig
		val, set := cfg[name]
		if set {
			c.IsDefault, c.Source = false, kmsg.ConfigSourceGroupConfig
		} else {
			val = defaults[name]
		}
		c.Value = kmsg.StringPtr(val)
		c.ConfigType = kmsg.ConfigTypeInt
		if name == coordinator.ShareAutoOffsetReset || name == coordinator.ShareIsolationLevel {
			c.ConfigType = kmsg.ConfigTypeString
		}
		res.Configs = append(res.Configs, c)
	}
	return nil
}
