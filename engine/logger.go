package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/lni/dragonboat/v4/logger"
)

// dragonboat's logger is process-wide: it goes to the logger of the engine
// opened last, at WARN and above.
var (
	dbLogger     atomic.Pointer[slog.Logger]
	dbLoggerOnce sync.Once
)

func routeDragonboatLogs(lg *slog.Logger) {
	dbLogger.Store(lg)
	dbLoggerOnce.Do(func() {
		logger.SetLoggerFactory(func(pkg string) logger.ILogger { return &slogAdapter{pkg: pkg} })
	})
}

// slogAdapter is a dragonboat ILogger writing to slog; INFO and DEBUG are
// dropped. dragonboat's raft package reports every campaign and vote as a
// warning; for a broker those are routine, so they are logged at INFO.
type slogAdapter struct{ pkg string }

func (a *slogAdapter) SetLevel(logger.LogLevel)      {}
func (a *slogAdapter) Debugf(string, ...interface{}) {}
func (a *slogAdapter) Infof(string, ...interface{})  {}
func (a *slogAdapter) Warningf(f string, args ...interface{}) {
	level := slog.LevelWarn
	if a.pkg == "raft" {
		level = slog.LevelInfo
	}
	a.log(level, f, args)
}
func (a *slogAdapter) Errorf(f string, args ...interface{}) {
	a.log(slog.LevelError, f, args)
}
func (a *slogAdapter) Panicf(f string, args ...interface{}) {
	msg := fmt.Sprintf(f, args...)
	a.log(slog.LevelError, "%s", []any{msg})
	panic(msg)
}

func (a *slogAdapter) log(level slog.Level, f string, args []any) {
	lg := dbLogger.Load()
	if lg == nil || !lg.Enabled(context.Background(), level) {
		return
	}
	lg.Log(context.Background(), level, fmt.Sprintf(f, args...), "component", "dragonboat/"+a.pkg)
}
