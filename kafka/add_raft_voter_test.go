package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// AddRaftVoter takes the Raft address from the listener named RAFT, else
// CONTROLLER, else the first one.
func TestRaftListener(t *testing.T) {
	l := func(name, host string, port uint16) kmsg.AddRaftVoterRequestListener {
		x := kmsg.NewAddRaftVoterRequestListener()
		x.Name, x.Host, x.Port = name, host, port
		return x
	}
	tests := []struct {
		ls   []kmsg.AddRaftVoterRequestListener
		want string
	}{
		{nil, ""},
		{[]kmsg.AddRaftVoterRequestListener{l("PLAINTEXT", "h", 9092)}, "h:9092"},
		{[]kmsg.AddRaftVoterRequestListener{l("PLAINTEXT", "h", 9092), l("CONTROLLER", "h", 9093)}, "h:9093"},
		{[]kmsg.AddRaftVoterRequestListener{l("CONTROLLER", "h", 9093), l("RAFT", "h", 7001)}, "h:7001"},
		{[]kmsg.AddRaftVoterRequestListener{l("RAFT", "::1", 7001)}, "[::1]:7001"},
	}
	for _, tt := range tests {
		if got := raftListener(tt.ls); got != tt.want {
			t.Errorf("raftListener(%v) = %q, want %q", tt.ls, got, tt.want)
		}
	}
}
