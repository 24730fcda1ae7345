package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// settings layers configuration: command-line flags win over BIKFED_* environment
// variables, which win over the optional JSON config file, which wins over the
// defaults each package's DefaultConfig returns. Every setting is a flag, so the
// three sources share one list of names.
type settings struct {
	fs     *flag.FlagSet
	config string
	logFmt string
	logLvl string
	// after runs once every source is read, for settings that need parsing
	// beyond what a flag.Value does (addresses, key files).
	after []func() error
}

func newSettings(name string, stderr io.Writer) *settings {
	s := &settings{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	s.fs.SetOutput(stderr)
	s.fs.StringVar(&s.config, "config", "", "JSON config file: an object whose keys are these flag names (env BIKFED_CONFIG)")
	s.fs.StringVar(&s.logFmt, "log-format", "text", "log format: text or json")
	s.fs.StringVar(&s.logLvl, "log-level", "info", "log level: debug, info, warn or error")
	return s
}

// envName is the environment variable for a flag: "long-poll-wait" → BIKFED_LONG_POLL_WAIT.
func envName(flagName string) string {
	return "BIKFED_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse reads the command line, then fills every flag not given there from the
// environment or, failing that, the config file.
func (s *settings) parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	explicit := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if !explicit["config"] {
		if v, ok := os.LookupEnv(envName("config")); ok {
			s.config = v
		}
	}
	file := map[string]any{}
	if s.config != "" {
		b, err := os.ReadFile(s.config)
		if err != nil {
			return fmt.Errorf("read config: %w", err)
		}
		if err := json.Unmarshal(b, &file); err != nil {
			return fmt.Errorf("config %s: %w", s.config, err)
		}
		for k := range file {
			if s.fs.Lookup(k) == nil {
				return fmt.Errorf("config %s: unknown setting %q", s.config, k)
			}
		}
	}
	var errs []error
	s.fs.VisitAll(func(f *flag.Flag) {
		if explicit[f.Name] || f.Name == "config" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", envName(f.Name), err))
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			str := fmt.Sprint(v)
			if f, isNum := v.(float64); isNum {
				str = fmt.Sprintf("%.0f", f)
			}
			if err := f.Value.Set(str); err != nil {
				errs = append(errs, fmt.Errorf("config %s: %s: %w", s.config, f.Name, err))
			}
		}
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, fn := range s.after {
		errs = append(errs, fn())
	}
	return errors.Join(errs...)
}

// logger builds the process logger from the log settings.
func (s *settings) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(s.logLvl)); err != nil {
		return nil, fmt.Errorf("log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch s.logFmt {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log-format: %q is not text or json", s.logFmt)
}
