package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procStatus returns the VmRSS and VmHWM of process pid in KiB.
func procStatus(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		fields := strings.Fields(line)
		if len(fields) >= 2 {
			*dst, _ = strconv.ParseInt(fields[1], 10, 64)
		}
	}
	return rss, hwm, sc.Err()
}

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat
// (100 on every Linux this runs on).
const clockTicks = 100

// procCPU returns the user plus system CPU time process pid has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted after its closing parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	// After the name: state is field 3, utime field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad CPU times", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// selfCPU returns the CPU time (user plus system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memSampler samples a process's resident set size while it runs.
type memSampler struct {
	pid  int
	stop chan struct{}
	done sync.WaitGroup

	mu      sync.Mutex
	peakRSS int64 // highest VmRSS seen, KiB
	samples int
}

// sampleMemory starts sampling pid's VmRSS every interval. A pid of 0
// samples nothing.
func sampleMemory(pid int, interval time.Duration) *memSampler {
	m := &memSampler{pid: pid, stop: make(chan struct{})}
	if pid == 0 {
		return m
	}
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memSampler) sample() {
	rss, _, err := procStatus(m.pid)
	if err != nil {
		return
	}
	m.mu.Lock()
	m.peakRSS = max(m.peakRSS, rss)
	m.samples++
	m.mu.Unlock()
}

// finish stops sampling and returns the highest VmRSS seen and the number
// of samples.
func (m *memSampler) finish() (peakKiB int64, samples int) {
	if m.pid != 0 {
		close(m.stop)
		m.done.Wait()
		m.sample()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peakRSS, m.samples
}

// cpuMeter measures the CPU used by the server and by this process
// between two points, as a share of wall time (1.0 = one core busy).
type cpuMeter struct {
	pid        int
	start      time.Time
	srv, local time.Duration
}

func startCPU(pid int) cpuMeter {
	m := cpuMeter{pid: pid, start: time.Now(), local: selfCPU()}
	if pid != 0 {
		m.srv, _ = procCPU(pid)
	}
	return m
}

// cores returns the server's and the load generator's average number of
// busy cores since the meter started (server -1 when no pid is known).
func (m cpuMeter) cores() (server, load float64) {
	wall := time.Since(m.start).Seconds()
	load = (selfCPU() - m.local).Seconds() / wall
	server = -1
	if m.pid != 0 {
		if c, err := procCPU(m.pid); err == nil {
			server = (c - m.srv).Seconds() / wall
		}
	}
	return server, load
}
