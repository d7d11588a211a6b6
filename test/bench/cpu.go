package main

import (
	"time"

	procstat "github.com/drover-dev/drover/test/proc"
)

// proc is a process whose CPU time is accounted during each measurement.
type proc struct {
	name string
	pid  int
}

// cpuSnapshot is the CPU time of each accounted process.
type cpuSnapshot map[string]time.Duration

func snapshot(procs []proc) cpuSnapshot {
	s := cpuSnapshot{}
	for _, p := range procs {
		if d, err := procstat.CPUTime(p.pid); err == nil {
			s[p.name] = d
		}
	}
	return s
}

// since returns the CPU each process used between then and now.
func (now cpuSnapshot) since(then cpuSnapshot) cpuSnapshot {
	d := cpuSnapshot{}
	for k, v := range now {
		if w, ok := then[k]; ok {
			d[k] = v - w
		}
	}
	return d
}
