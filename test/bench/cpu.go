package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// proc is a process whose CPU time is accounted during each measurement.
type proc struct {
	name string
	pid  int
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports outside of exotic kernels.
const clockTick = 10 * time.Millisecond

// cpuTime returns the user+system CPU time of pid so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; fields start after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is the state (field 3); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var total time.Duration
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		total += time.Duration(n) * clockTick
	}
	return total, nil
}

// cpuSnapshot is the CPU time of each accounted process.
type cpuSnapshot map[string]time.Duration

func snapshot(procs []proc) cpuSnapshot {
	s := cpuSnapshot{}
	for _, p := range procs {
		if d, err := cpuTime(p.pid); err == nil {
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
