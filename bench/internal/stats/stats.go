// Package stats holds the two summaries the comparison reports: the
// median of repeated runs and nearest-rank percentiles of step times.
package stats

import "slices"

// Median is the median of v, the mean of the middle two for an even
// count, 0 for none. v is left as it is.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted:
// the smallest value that at least p % of them do not exceed. It is the
// zero value for none.
func Percentile[T any](sorted []T, p int) T {
	if len(sorted) == 0 {
		var zero T
		return zero
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}
