package engine

import (
	"log/slog"

	"github.com/chronik-io/chronik/internal/raftconf"
)

// routeDragonboatLogs sends dragonboat's logs to lg. dragonboat's logger is
// process-wide: it goes to the logger of the engine opened last, at WARN
// and above (raftconf.RouteLogs).
func routeDragonboatLogs(lg *slog.Logger) { raftconf.RouteLogs(lg) }
