package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// PrintTable writes results as an aligned table.
func PrintTable(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tbackend\tevents\trequests\terrors\tseconds\tevents/s\tp50 ms\tp99 ms\tserver cores\tgen cores\tpeak RSS MB\tpeak anon MB\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.1f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.0f\t%.0f\t\n",
			r.Scenario, r.Backend, r.Events, r.Requests, r.Errors, r.Seconds, r.EventsPerSec, r.P50Ms, r.P99Ms, r.ServerCores, r.GeneratorCores, r.PeakRSSMB, r.PeakAnonMB)
	}
	tw.Flush()
}
