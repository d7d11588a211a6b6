package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The bench's sections, each skippable with -skip.
const (
	// secThroughput is the GET and LIST comparison (and profiling mode).
	secThroughput = "throughput"
	// secACE is GET latency through the authorized cluster endpoint.
	secACE = "ace"
	// secFailover kills and freezes the cluster agent under load.
	secFailover = "failover"
	// secReconnect restarts a server with many agents connected.
	secReconnect = "reconnect"
	// secWatch is the added latency of a watch event, JSON and protobuf,
	// with one and many watches.
	secWatch = "watch"
	// secPlugin is what the drover credential plugin adds to a kubectl
	// command.
	secPlugin = "plugin"
	// secReplicas is GET through a server replica and through its peer,
	// which relays to it.
	secReplicas = "replicas"
	// secFootprint is what an idle cluster agent and node agent hold:
	// RSS and CPU.
	secFootprint = "footprint"
	// secNodes streams (exec, port-forward, logs -f) on a cluster with
	// real nodes, imported the real way; it needs root.
	secNodes = "nodes"
)

var sections = []string{secThroughput, secWatch, secACE, secPlugin, secReplicas, secFootprint, secFailover, secReconnect, secNodes}

// envSections are the sections that share the bench cluster (env.go); the
// nodes section brings up its own.
var envSections = []string{secThroughput, secWatch, secACE, secPlugin, secReplicas, secFootprint, secFailover, secReconnect}

// Options are the bench's flags. The defaults keep `make bench` to six or
// seven minutes on two cores: about two the throughput section, under one
// the watch section, two to three the nodes section (its cluster start and
// import included).
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
	// Skip names sections not to run. Profiling mode runs the throughput
	// section only.
	Skip stringList
	// FailoverReps is how many times the cluster agent is SIGKILLed (the
	// SIGSTOP variant runs once more).
	FailoverReps int
	// ReconnectAgents node agents are connected when the server is
	// restarted.
	ReconnectAgents int
	// ReconnectPauses are how long the server stays down between its
	// SIGKILL and its restart, one restart each.
	ReconnectPauses durationList
	// ACEColdTokens fresh tokens each make one first (uncached) request.
	ACEColdTokens int
	// PluginRuns are the kubectl commands timed per path in the plugin
	// section.
	PluginRuns int
	// WatchEvents events are timed per watch measurement, written
	// WatchRate a second; WatchWatchers are the numbers of concurrent
	// watches per path and WatchEncodings the watch encodings (watchJSON,
	// watchProtobuf), one measurement each.
	WatchEvents    int
	WatchRate      int
	WatchWatchers  intList
	WatchEncodings stringList
	// NodesExecRuns execs are timed on each path.
	NodesExecRuns int
	// NodesForwardMB is the size of the file the pod serves through
	// port-forward; NodesForwardStreams the concurrent streams measured;
	// NodesForwardDuration how long each measurement starts new reads
	// (the reads under way are read to their end).
	NodesForwardMB       int
	NodesForwardStreams  intList
	NodesForwardDuration time.Duration
	// NodesLogLines lines of `logs -f` are timed on each path;
	// NodesLogInterval is how often the pod prints one.
	NodesLogLines    int
	NodesLogInterval time.Duration
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		GetDuration:     5 * time.Second,
		ListDuration:    8 * time.Second,
		Warmup:          time.Second,
		GetConcurrency:  intList{1, 32},
		ListStreams:     intList{1, 16},
		ListEncodings:   stringList{encGzip, encIdentity},
		Objects:         60,
		ObjectSize:      900 << 10,
		ServerLogLevel:  "info",
		FailoverReps:    5,
		ReconnectAgents: 50,
		ReconnectPauses: durationList{0, 5 * time.Second},
		ACEColdTokens:   20,
		PluginRuns:      30,
		WatchEvents:     400,
		WatchRate:       50,
		WatchWatchers:   intList{1, 100},
		WatchEncodings:  stringList{watchJSON, watchProtobuf},

		NodesExecRuns:        100,
		NodesForwardMB:       32,
		NodesForwardStreams:  intList{1, 8},
		NodesForwardDuration: 4 * time.Second,
		NodesLogLines:        200,
		NodesLogInterval:     50 * time.Millisecond,
	}
}

// runs reports whether section s is to be measured.
func (o *Options) runs(s string) bool {
	if o.CPUProfileDir != "" && s != secThroughput {
		return false // profiling mode runs server and agent in-process
	}
	for _, k := range o.Skip {
		if k == s {
			return false
		}
	}
	return true
}

// needsEnv reports whether a section that shares the bench cluster runs.
func (o *Options) needsEnv() bool { return slices.ContainsFunc(envSections, o.runs) }

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
	fs.Var(&o.Skip, "skip", "comma-separated sections not to run: "+strings.Join(sections, ", ")+
		" (throughput: the GET and LIST comparison; profiling mode runs throughput only; watch: the added latency of a watch event;"+
		" nodes: exec, port-forward and logs -f on a cluster with real nodes, which needs root: without root it fails, -skip nodes leaves it out)")
	fs.IntVar(&o.FailoverReps, "failover-reps", o.FailoverReps, "SIGKILLs of the cluster agent in the failover section (plus one SIGSTOP)")
	fs.IntVar(&o.ReconnectAgents, "reconnect-agents", o.ReconnectAgents, "node agents connected when the server is restarted")
	fs.Var(&o.ReconnectPauses, "reconnect-pauses", "comma-separated times the server stays down before each restart (0: restarted at once)")
	fs.IntVar(&o.PluginRuns, "plugin-runs", o.PluginRuns, "plugin section: kubectl commands timed per path")
	fs.IntVar(&o.ACEColdTokens, "ace-cold-tokens", o.ACEColdTokens, "fresh tokens whose first request is timed through the authorized endpoint and through Drover")
	fs.IntVar(&o.WatchEvents, "watch-events", o.WatchEvents, "watch section: events timed per measurement (after a few unmeasured)")
	fs.IntVar(&o.WatchRate, "watch-rate", o.WatchRate, "watch section: ConfigMap patches a second")
	fs.Var(&o.WatchWatchers, "watch-watchers", "watch section: comma-separated numbers of concurrent watches per path")
	fs.Var(&o.WatchEncodings, "watch-encodings", "watch section: comma-separated watch encodings: json (kubectl), protobuf (client-go controllers)")
	fs.IntVar(&o.NodesExecRuns, "nodes-exec-runs", o.NodesExecRuns, "nodes section: execs (echo x) timed on each path for p50 and p99")
	fs.IntVar(&o.NodesForwardMB, "nodes-forward-mb", o.NodesForwardMB, "nodes section: MB of the file the pod serves through port-forward")
	fs.Var(&o.NodesForwardStreams, "nodes-forward-streams", "nodes section: comma-separated numbers of concurrent port-forward streams")
	fs.DurationVar(&o.NodesForwardDuration, "nodes-forward-duration", o.NodesForwardDuration,
		"nodes section: how long each port-forward measurement starts new reads of the file (each read goes to its end)")
	fs.IntVar(&o.NodesLogLines, "nodes-log-lines", o.NodesLogLines, "nodes section: lines of logs -f timed on each path (both paths follow the same lines)")
	fs.DurationVar(&o.NodesLogInterval, "nodes-log-interval", o.NodesLogInterval, "nodes section: how often the pod prints a timestamped line")
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
	for _, k := range o.Skip {
		if !slices.Contains(sections, k) {
			errs = append(errs, fmt.Errorf("-skip: %q is not a section (%s)", k, strings.Join(sections, ", ")))
		}
	}
	if o.CPUProfileDir != "" && !o.runs(secThroughput) {
		errs = append(errs, errors.New("-cpuprofile-dir profiles the throughput section, which -skip leaves out"))
	} else if !slices.ContainsFunc(sections, o.runs) {
		errs = append(errs, errors.New("-skip leaves nothing to run"))
	}
	if o.FailoverReps < 1 || o.FailoverReps > 20 {
		errs = append(errs, fmt.Errorf("-failover-reps %d must be between 1 and 20", o.FailoverReps))
	}
	if o.ReconnectAgents < 1 || o.ReconnectAgents > 200 {
		errs = append(errs, fmt.Errorf("-reconnect-agents %d must be between 1 and 200", o.ReconnectAgents))
	}
	if len(o.ReconnectPauses) == 0 || len(o.ReconnectPauses) > 5 {
		errs = append(errs, errors.New("-reconnect-pauses must list one to five durations"))
	}
	for _, d := range o.ReconnectPauses {
		if d < 0 || d > time.Minute {
			errs = append(errs, fmt.Errorf("-reconnect-pauses: %v must be between 0 and 1m", d))
		}
	}
	if o.PluginRuns < 1 || o.PluginRuns > 1000 {
		errs = append(errs, fmt.Errorf("-plugin-runs %d must be between 1 and 1000", o.PluginRuns))
	}
	if o.ACEColdTokens < 1 || o.ACEColdTokens > 100 {
		errs = append(errs, fmt.Errorf("-ace-cold-tokens %d must be between 1 and 100", o.ACEColdTokens))
	}
	if o.WatchEvents < 20 || o.WatchEvents > 5000 {
		errs = append(errs, fmt.Errorf("-watch-events %d must be between 20 and 5000", o.WatchEvents))
	}
	if o.WatchRate < 1 || o.WatchRate > 1000 {
		errs = append(errs, fmt.Errorf("-watch-rate %d must be between 1 and 1000", o.WatchRate))
	}
	if err := o.WatchWatchers.check("-watch-watchers", 1000); err != nil {
		errs = append(errs, err)
	}
	if len(o.WatchEncodings) == 0 {
		errs = append(errs, errors.New("-watch-encodings must list at least one encoding"))
	}
	for _, enc := range o.WatchEncodings {
		if enc != watchJSON && enc != watchProtobuf {
			errs = append(errs, fmt.Errorf("-watch-encodings: %q must be json or protobuf", enc))
		}
	}
	if o.NodesExecRuns < 10 || o.NodesExecRuns > 2000 {
		errs = append(errs, fmt.Errorf("-nodes-exec-runs %d must be between 10 and 2000", o.NodesExecRuns))
	}
	if o.NodesForwardMB < 1 || o.NodesForwardMB > 256 {
		errs = append(errs, fmt.Errorf("-nodes-forward-mb %d must be between 1 and 256", o.NodesForwardMB))
	}
	if err := o.NodesForwardStreams.check("-nodes-forward-streams", 32); err != nil {
		errs = append(errs, err)
	}
	if d := o.NodesForwardDuration; d < 500*time.Millisecond || d > time.Minute {
		errs = append(errs, fmt.Errorf("-nodes-forward-duration %v must be between 500ms and 1m", d))
	}
	if o.NodesLogLines < 20 || o.NodesLogLines > 5000 {
		errs = append(errs, fmt.Errorf("-nodes-log-lines %d must be between 20 and 5000", o.NodesLogLines))
	}
	if d := o.NodesLogInterval; d < 10*time.Millisecond || d > time.Second {
		errs = append(errs, fmt.Errorf("-nodes-log-interval %v must be between 10ms and 1s", d))
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

// durationList is a comma-separated list of durations.
type durationList []time.Duration

func (l *durationList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = v.String()
	}
	return strings.Join(s, ",")
}

func (l *durationList) Set(v string) error {
	var out durationList
	for _, f := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("%q is not a duration", f)
		}
		out = append(out, d)
	}
	*l = out
	return nil
}
