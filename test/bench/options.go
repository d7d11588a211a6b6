package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Options are the bench's flags. The defaults keep `make bench` under about
// two minutes on two cores.
type Options struct {
	// GetDuration and ListDuration bound each measurement; Warmup runs the
	// same load first, unmeasured, so connections and caches are warm.
	GetDuration  time.Duration
	ListDuration time.Duration
	Warmup       time.Duration
	// GetConcurrency and ListStreams are the loads measured, each on both
	// paths.
	GetConcurrency intList
	ListStreams    intList
	// ListEncodings are the ways the bulk LIST is asked for (encGzip,
	// encIdentity, encIdentityHeader).
	ListEncodings stringList
	// Objects ConfigMaps of ObjectSize bytes make up the bulk LIST.
	Objects    int
	ObjectSize int
	// ServerLogLevel is passed to drover-server and drover-agent.
	ServerLogLevel string
	// CPUProfileDir switches to profiling mode: the server and the agent
	// run inside this process (pkg/server.Run, pkg/agent.Run) under pprof
	// labels, only the Drover path is measured, and one CPU profile per
	// measurement is written here.
	CPUProfileDir string
	// Keep leaves the working directory (logs, data) in place.
	Keep bool
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		GetDuration:    5 * time.Second,
		ListDuration:   8 * time.Second,
		Warmup:         time.Second,
		GetConcurrency: intList{1, 32},
		ListStreams:    intList{1, 16},
		ListEncodings:  stringList{encGzip, encIdentity},
		Objects:        60,
		ObjectSize:     900 << 10,
		ServerLogLevel: "info",
	}
}

// Flags registers the options on fs.
func (o *Options) Flags(fs *flag.FlagSet) {
	fs.DurationVar(&o.GetDuration, "get-duration", o.GetDuration, "length of each GET measurement")
	fs.DurationVar(&o.ListDuration, "list-duration", o.ListDuration, "length of each bulk LIST measurement")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured load before each measurement")
	fs.Var(&o.GetConcurrency, "get-concurrency", "comma-separated numbers of concurrent GET workers")
	fs.Var(&o.ListStreams, "list-streams", "comma-separated numbers of concurrent LIST streams")
	fs.Var(&o.ListEncodings, "list-encodings", "comma-separated LIST encodings: gzip (client-go default), identity (no Accept-Encoding), identity-header (explicit Accept-Encoding: identity)")
	fs.IntVar(&o.Objects, "objects", o.Objects, "number of ConfigMaps in the bulk LIST")
	fs.IntVar(&o.ObjectSize, "object-size", o.ObjectSize, "bytes of data in each bulk ConfigMap")
	fs.StringVar(&o.ServerLogLevel, "server-log-level", o.ServerLogLevel, "log level of drover-server and drover-agent")
	fs.StringVar(&o.CPUProfileDir, "cpuprofile-dir", o.CPUProfileDir,
		"profiling mode: run server and agent in-process, measure the Drover path only, write CPU profiles here")
	fs.BoolVar(&o.Keep, "keep", o.Keep, "keep the working directory (logs, data) after the run")
}

// maxObjectSize keeps one ConfigMap under the 1 MiB ConfigMap limit and
// etcd's ~1.5 MiB request limit.
const maxObjectSize = 1000 << 10

// Validate checks the options.
func (o *Options) Validate() error {
	var errs []error
	for name, d := range map[string]time.Duration{"-get-duration": o.GetDuration, "-list-duration": o.ListDuration} {
		if d < 500*time.Millisecond || d > time.Minute {
			errs = append(errs, fmt.Errorf("%s %v must be between 500ms and 1m", name, d))
		}
	}
	if o.Warmup < 0 || o.Warmup > 10*time.Second {
		errs = append(errs, fmt.Errorf("-warmup %v must be between 0 and 10s", o.Warmup))
	}
	if err := o.GetConcurrency.check("-get-concurrency", 256); err != nil {
		errs = append(errs, err)
	}
	if err := o.ListStreams.check("-list-streams", 64); err != nil {
		errs = append(errs, err)
	}
	if len(o.ListEncodings) == 0 {
		errs = append(errs, errors.New("-list-encodings must list at least one encoding"))
	}
	for _, enc := range o.ListEncodings {
		switch enc {
		case encGzip, encIdentity, encIdentityHeader:
		default:
			errs = append(errs, fmt.Errorf("-list-encodings: %q must be gzip, identity or identity-header", enc))
		}
	}
	if o.Objects < 1 || o.Objects > 200 {
		errs = append(errs, fmt.Errorf("-objects %d must be between 1 and 200", o.Objects))
	}
	if o.ObjectSize < 1<<10 || o.ObjectSize > maxObjectSize {
		errs = append(errs, fmt.Errorf("-object-size %d must be between 1 KiB and %d", o.ObjectSize, maxObjectSize))
	}
	switch o.ServerLogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("-server-log-level %q must be debug, info, warn or error", o.ServerLogLevel))
	}
	return errors.Join(errs...)
}

// intList is a comma-separated list of positive integers.
type intList []int

func (l *intList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out intList
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q is not a number", f)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

func (l intList) check(name string, max int) error {
	if len(l) == 0 {
		return fmt.Errorf("%s must list at least one number", name)
	}
	for _, n := range l {
		if n < 1 || n > max {
			return fmt.Errorf("%s: %d must be between 1 and %d", name, n, max)
		}
	}
	return nil
}

// stringList is a comma-separated list of words.
type stringList []string

func (l *stringList) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *stringList) Set(v string) error {
	var out stringList
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	*l = out
	return nil
}
