package console

import (
	"fmt"
	"strings"
	"time"

	"github.com/pulsestream/pulsestream/internal/pulse"
)

// Charts are drawn by the server as SVG (no script, no external service):
// numbers computed here, markup written by the templates, which escape
// every text.

const (
	chartW = 1000.0
	chartH = 160.0
)

type histogramSVG struct {
	W, H    float64
	Bars    []svgBar
	Legend  []svgLegend
	Summary string // the chart in words, for screen readers
	Total   int64
	First   string
	Last    string
}

type svgBar struct {
	X, W float64
	Segs []svgSeg
}

type svgSeg struct {
	Y, H  float64
	Class string
	Title string
}

type svgLegend struct {
	Class, Label string
	Count        int64
}

// drawHistogram stacks each bucket's counts by severity, most severe on top.
func drawHistogram(h *pulse.Histogram) *histogramSVG {
	out := &histogramSVG{W: chartW, H: chartH, Total: h.Total}
	if len(h.Buckets) == 0 {
		return out
	}
	var peak int64
	for _, b := range h.Buckets {
		peak = max(peak, b.Count)
	}
	bw := chartW / float64(len(h.Buckets))
	totals := map[string]int64{}
	for i, b := range h.Buckets {
		bar := svgBar{X: float64(i) * bw, W: max(bw-1, 0.5)}
		y := chartH
		for _, sev := range pulse.Severities { // least severe at the bottom
			n := b.Groups[string(sev)]
			if n == 0 || peak == 0 {
				continue
			}
			totals[string(sev)] += n
			hgt := float64(n) / float64(peak) * (chartH - 4)
			y -= hgt
			bar.Segs = append(bar.Segs, svgSeg{Y: y, H: hgt, Class: "sev-" + string(sev),
				Title: fmt.Sprintf("%s: %d %s", b.Start.UTC().Format("2006-01-02 15:04"), n, sev)})
		}
		out.Bars = append(out.Bars, bar)
	}
	var parts []string
	for i := len(pulse.Severities) - 1; i >= 0; i-- {
		sev := string(pulse.Severities[i])
		out.Legend = append(out.Legend, svgLegend{Class: "sev-" + sev, Label: sev, Count: totals[sev]})
		if totals[sev] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", totals[sev], sev))
		}
	}
	out.First = h.Buckets[0].Start.UTC().Format("2006-01-02 15:04")
	out.Last = h.Buckets[len(h.Buckets)-1].Start.Add(intervalOf(h)).UTC().Format("2006-01-02 15:04")
	out.Summary = fmt.Sprintf("%d events from %s to %s UTC in %d buckets of %s", h.Total, out.First, out.Last, len(h.Buckets), h.Interval)
	if len(parts) > 0 {
		out.Summary += ": " + strings.Join(parts, ", ")
	}
	return out
}

func intervalOf(h *pulse.Histogram) time.Duration {
	if len(h.Buckets) > 1 {
		return h.Buckets[1].Start.Sub(h.Buckets[0].Start)
	}
	return h.End.Sub(h.Buckets[0].Start)
}

// barChart is a simple one-series chart (usage).
type barChart struct {
	W, H    float64
	Bars    []svgBar
	Summary string
}

func drawBars(labels []string, values []int64, class string) *barChart {
	out := &barChart{W: chartW, H: chartH}
	var peak int64
	for _, v := range values {
		peak = max(peak, v)
	}
	if len(values) == 0 {
		return out
	}
	bw := chartW / float64(len(values))
	var sum int64
	for i, v := range values {
		sum += v
		bar := svgBar{X: float64(i) * bw, W: max(bw-1, 0.5)}
		if v > 0 && peak > 0 {
			hgt := float64(v) / float64(peak) * (chartH - 4)
			bar.Segs = []svgSeg{{Y: chartH - hgt, H: hgt, Class: class, Title: fmt.Sprintf("%s: %d", labels[i], v)}}
		}
		out.Bars = append(out.Bars, bar)
	}
	out.Summary = fmt.Sprintf("%d in total over %d periods", sum, len(values))
	return out
}
