package gossip

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// newStdLogger returns the *log.Logger memberlist insists on, writing into
// logger. log.Logger makes exactly one Write per Printf, which is what lets
// logBridge treat every Write as one line.
// closing reports whether the member is shutting down.
func newStdLogger(logger *slog.Logger, closing func() bool) *log.Logger {
	return log.New(logBridge{logger, closing}, "", 0)
}

// logBridge turns memberlist's "[LEVEL] memberlist: message" lines into slog
// records at the matching level.
type logBridge struct {
	log     *slog.Logger
	closing func() bool
}

func (b logBridge) Write(p []byte) (int, error) {
	level, msg := parseLogLine(string(p))
	// Memberlist's goroutines race its own shutdown: a send on the socket
	// it has just closed is expected then, not an error.
	if level > slog.LevelDebug && b.closing != nil && b.closing() && strings.Contains(msg, "use of closed network connection") {
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if !b.log.Enabled(ctx, level) {
		return len(p), nil
	}
	if h := logHint(msg); h != "" {
		b.log.Log(ctx, level, msg, "source", "memberlist", "hint", h)
	} else {
		b.log.Log(ctx, level, msg, "source", "memberlist")
	}
	return len(p), nil
}

// parseLogLine splits a memberlist log line into its level and message.
// Lines without a known level prefix are logged at Info, except the few
// memberlist writes as "Err: ...".
func parseLogLine(line string) (slog.Level, string) {
	line = strings.TrimRight(line, "\r\n")
	level := slog.LevelInfo
	for _, p := range []struct {
		prefix string
		level  slog.Level
	}{
		{"[DEBUG]", slog.LevelDebug},
		{"[TRACE]", slog.LevelDebug},
		{"[INFO]", slog.LevelInfo},
		{"[WARN]", slog.LevelWarn},
		{"[WARNING]", slog.LevelWarn},
		{"[ERR]", slog.LevelError},
		{"[ERROR]", slog.LevelError},
		{"Err:", slog.LevelError},
	} {
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			level, line = p.level, rest
			break
		}
	}
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "memberlist: ")
	return level, line
}

// logHint explains the memberlist messages that mean a misconfiguration, so
// that the member refusing a peer says why in words an operator can act on.
func logHint(msg string) string {
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "no installed keys could decrypt"):
		return "a peer uses a gossip key that is not in this member's keyring (or the reverse): check the gossip key"
	case strings.Contains(lower, "unacceptable label"):
		return "a peer uses a different cluster label: check the gossip cluster label"
	case strings.Contains(lower, "encryption is configured but remote state is not encrypted"),
		strings.Contains(lower, "remote state is encrypted and encryption is not configured"):
		return "gossip encryption is on at one side only: check the gossip key"
	case strings.Contains(lower, "conflicting address"):
		return "two members claim the same name from different addresses"
	}
	return ""
}
