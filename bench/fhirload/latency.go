package main

import (
	"fmt"
	"slices"
	"time"
)

// latencies collects request durations for percentiles.
type latencies []time.Duration

// merge returns all the samples of ls, sorted.
func merge(ls []latencies) latencies {
	var all latencies
	for _, l := range ls {
		all = append(all, l...)
	}
	slices.Sort(all)
	return all
}

// pct returns the p-th percentile (0 < p <= 100) of sorted samples, by
// the nearest-rank method.
func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(float64(len(l))*p/100+0.999999) - 1
	return l[min(max(i, 0), len(l)-1)]
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}
