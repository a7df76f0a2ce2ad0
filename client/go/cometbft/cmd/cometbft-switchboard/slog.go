package main

import (
	"context"
	"log/slog"

	"github.com/cometbft/cometbft/libs/log"
)

// cmtHandler passes the SDK's slog records to CometBFT's logger, so that
// the process writes one log format.
type cmtHandler struct {
	logger log.Logger
	attrs  []any
}

func newSlogLogger(l log.Logger) *slog.Logger { return slog.New(cmtHandler{logger: l}) }

func (cmtHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h cmtHandler) Handle(_ context.Context, r slog.Record) error {
	kv := append([]any(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		kv = append(kv, a.Key, a.Value.Any())
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		h.logger.Error(r.Message, kv...)
	case r.Level >= slog.LevelInfo:
		h.logger.Info(r.Message, kv...)
	default:
		h.logger.Debug(r.Message, kv...)
	}
	return nil
}

func (h cmtHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := cmtHandler{logger: h.logger, attrs: append([]any(nil), h.attrs...)}
	for _, a := range as {
		n.attrs = append(n.attrs, a.Key, a.Value.Any())
	}
	return n
}

func (h cmtHandler) WithGroup(string) slog.Handler { return h }
