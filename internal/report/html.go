package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

//go:embed report.html.tmpl
var templates embed.FS

var page = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"date":     func(t time.Time) string { return fmtTime(t, "2006-01-02") },
	"time":     func(t time.Time) string { return fmtTime(t, "2006-01-02 15:04 UTC") },
	"duration": FormatDuration,
	"lasted":   SessionDuration,
}).ParseFS(templates, "report.html.tmpl"))

func fmtTime(t time.Time, layout string) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(layout)
}

// FormatDuration is a duration to the second, like 1h, 1h5m, 40m or 45s;
// "-" for zero or less.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// charts are the report's charts as inline SVG.
type charts struct {
	VendsPerDay, Principals, Users, ByReason, ByRule, Approvals template.HTML
}

// WriteHTML writes the report as one self-contained HTML page: inline CSS
// and SVG, no script, nothing loaded from elsewhere; it prints to PDF.
func (r *Report) WriteHTML(w io.Writer) error {
	var c charts
	var err error
	if c.VendsPerDay, err = r.vendsChart(); err != nil {
		return err
	}
	for _, h := range []struct {
		dst    *template.HTML
		counts []Count
		title  string
		label  func(string) string
	}{
		{&c.Principals, r.Principals, "Vends per principal", shortARN},
		{&c.Users, r.Users, "Vends per user", nil},
		{&c.ByReason, r.ByReason, "Refusals per reason", nil},
		{&c.ByRule, r.ByRule, "Refusals per rule", nil},
		{&c.Approvals, r.Approvals.ByStatus, "Approval requests per status", nil},
	} {
		if *h.dst, err = barChart(h.counts, h.title, h.label); err != nil {
			return err
		}
	}
	return page.Execute(w, struct {
		*Report
		Charts charts
		Long   time.Duration
	}{r, c, LongSession})
}

func init() {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
}

// shortARN keeps a chart label readable: the role and session of an
// assumed-role ARN, the name of a user.
func shortARN(arn string) string {
	if i := strings.Index(arn, ":assumed-role/"); i >= 0 {
		return arn[i+len(":assumed-role/"):]
	}
	if i := strings.LastIndex(arn, ":"); i >= 0 {
		arn = arn[i+1:]
	}
	return strings.TrimPrefix(arn, "role/")
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// svg renders a plot as an inline <svg> element.
func svg(p *plot.Plot, w, h vg.Length) (template.HTML, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("rendering a chart: %w", err)
	}
	out := buf.String()
	i := strings.Index(out, "<svg")
	if i < 0 {
		return "", fmt.Errorf("rendering a chart: no <svg> element")
	}
	// The text is the chart's own labels, escaped by the SVG writer.
	return template.HTML(out[i:]), nil //nolint:gosec // generated SVG, labels escaped by svgo
}

// vendsChart is a stacked bar chart of vends per day, one colour per
// profile.
func (r *Report) vendsChart() (template.HTML, error) {
	p := plot.New()
	p.Title.Text = "Vends per day and profile (UTC)"
	p.Y.Label.Text = "vends"
	p.Y.Tick.Marker = countTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	days := make([]string, len(r.VendsPerDay))
	for i, d := range r.VendsPerDay {
		if len(r.VendsPerDay) <= 14 || i%2 == 0 {
			days[i] = d.Day.Format("01-02")
		}
	}
	width := vg.Points(max(4, min(18, 420/float64(max(len(days), 1)))))
	var below *plotter.BarChart
	for j, profile := range r.Profiles {
		vs := make(plotter.Values, len(r.VendsPerDay))
		for i, d := range r.VendsPerDay {
			vs[i] = float64(d.Counts[j])
		}
		b, err := plotter.NewBarChart(vs, width)
		if err != nil {
			return "", err
		}
		b.Color = plotutil.Color(j)
		b.LineStyle.Width = 0
		if below != nil {
			b.StackOn(below)
		}
		below = b
		p.Add(b)
		p.Legend.Add(profile, b)
	}
	if len(r.Profiles) == 0 {
		p.Title.Text += ": none"
	}
	p.NominalX(days...)
	p.X.Tick.Label.Rotation = 1.5708
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	// Head room for the legend above the highest bar.
	highest := 0
	for _, d := range r.VendsPerDay {
		highest = max(highest, d.Total)
	}
	p.Y.Min, p.Y.Max = 0, float64(highest)*1.15+float64(len(r.Profiles))*0.12*float64(max(highest, 1))+1
	p.Add(plotter.NewGrid())
	return svg(p, 6.5*vg.Inch, 3.4*vg.Inch)
}

// countTicks are the default ticks of an axis of counts, whole numbers
// only.
type countTicks struct{}

func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Value != math.Trunc(t.Value) {
			continue
		}
		if t.Label != "" {
			t.Label = strconv.Itoa(int(t.Value))
		}
		out = append(out, t)
	}
	return out
}

// barChart is a horizontal bar chart of counts, largest on top.
func barChart(counts []Count, title string, label func(string) string) (template.HTML, error) {
	p := plot.New()
	p.Title.Text = title
	if len(counts) == 0 {
		p.Title.Text += ": none"
		p.HideAxes()
		return svg(p, 4*vg.Inch, 0.6*vg.Inch)
	}
	vs := make(plotter.Values, len(counts))
	names := make([]string, len(counts))
	for i, c := range counts {
		// Bottom to top: the largest count last, drawn at the top.
		k := len(counts) - 1 - i
		vs[k] = float64(c.N)
		name := c.Key
		if label != nil {
			name = label(name)
		}
		names[k] = truncate(name, 36)
	}
	b, err := plotter.NewBarChart(vs, vg.Points(12))
	if err != nil {
		return "", err
	}
	b.Horizontal = true
	b.Color = color.RGBA{R: 0x2b, G: 0x6c, B: 0xb0, A: 0xff}
	b.LineStyle.Width = 0
	p.Add(b)
	p.NominalY(names...)
	p.X.Min = 0
	p.X.Label.Text = "count"
	p.X.Tick.Marker = countTicks{}
	return svg(p, 4.4*vg.Inch, vg.Length(0.9+0.26*float64(len(counts)))*vg.Inch)
}
