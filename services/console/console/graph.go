package console

import (
	"slices"
	"strconv"
	"strings"
)

// graph is the demand graph drawn as SVG: producing services on the left,
// event types in the middle, consuming services on the right.
type graph struct {
	Width, Height int
	Nodes         []gnode
	Edges         []gedge
}

type gnode struct {
	X, Y   int
	Label  string
	Class  string // producer, type, consumer; plus the type's state
	Anchor string // start or end
}

type gedge struct {
	X1, Y1, X2, Y2 int
	Class          string // "passive" for passive consumers, "retired"
}

const (
	graphRow   = 22
	graphTop   = 30
	graphWidth = 900
	colProd    = 190 // right edge of producer labels
	colType    = 330 // left edge of type labels
	colCons    = 700 // left edge of consumer labels
)

func buildGraph(types []typeRow) graph {
	var prods, cons []string
	for _, t := range types {
		for _, p := range t.Producers {
			prods = append(prods, serviceOf(p))
		}
		for _, c := range t.Consumers {
			cons = append(cons, c.Service)
		}
	}
	slices.Sort(prods)
	prods = slices.Compact(prods)
	slices.Sort(cons)
	cons = slices.Compact(cons)
	rows := max(len(types), len(prods), len(cons))
	g := graph{Width: graphWidth, Height: graphTop + rows*graphRow + 10}
	y := func(i, n int) int { // spread n rows over the tallest column
		if n == 0 {
			return graphTop
		}
		step := float64(rows*graphRow) / float64(n)
		return graphTop + int(step*float64(i)+step/2)
	}
	py, cy := map[string]int{}, map[string]int{}
	g.Nodes = append(g.Nodes, gnode{X: colProd, Y: 14, Label: "publishes", Class: "head", Anchor: "end"},
		gnode{X: colType, Y: 14, Label: "event type", Class: "head", Anchor: "start"},
		gnode{X: colCons, Y: 14, Label: "consumes", Class: "head", Anchor: "start"})
	for i, p := range prods {
		py[p] = y(i, len(prods))
		g.Nodes = append(g.Nodes, gnode{X: colProd, Y: py[p], Label: p, Class: "producer", Anchor: "end"})
	}
	for i, c := range cons {
		cy[c] = y(i, len(cons))
		g.Nodes = append(g.Nodes, gnode{X: colCons, Y: cy[c], Label: c, Class: "consumer", Anchor: "start"})
	}
	for i, t := range types {
		ty := y(i, len(types))
		class := "type"
		if t.State != "" {
			class += " " + t.State
		}
		if t.Active == 0 && len(t.Consumers) == 0 {
			class += " unwanted"
		}
		g.Nodes = append(g.Nodes, gnode{X: colType, Y: ty, Label: t.Type, Class: class, Anchor: "start"})
		seen := map[string]bool{}
		for _, p := range t.Producers {
			s := serviceOf(p)
			if seen[s] {
				continue
			}
			seen[s] = true
			e := gedge{X1: colProd + 6, Y1: py[s] - 4, X2: colType - 6, Y2: ty - 4}
			if slices.Contains(t.RetiredBy, p) || t.State == "retired" {
				e.Class = "retired"
			}
			g.Edges = append(g.Edges, e)
		}
		seen = map[string]bool{}
		for _, c := range t.Consumers {
			if seen[c.Service] {
				continue
			}
			seen[c.Service] = true
			e := gedge{X1: colType + 8*len(t.Type) + 10, Y1: ty - 4, X2: colCons - 6, Y2: cy[c.Service] - 4}
			e.X1 = min(e.X1, colCons-40)
			if c.Passive {
				e.Class = "passive"
			}
			g.Edges = append(g.Edges, e)
		}
	}
	return g
}

func serviceOf(id string) string {
	s, _, _ := strings.Cut(id, "@")
	return s
}

// spark is a small load chart: a polyline and its axis labels.
type spark struct {
	W, H     int
	Points   string
	Min, Max float64
	Empty    bool
}

func sparkline(ps []LoadPoint, w, h int) spark {
	s := spark{W: w, H: h, Empty: len(ps) < 2}
	if s.Empty {
		return s
	}
	s.Min, s.Max = ps[0].LoadKW, ps[0].LoadKW
	for _, p := range ps {
		s.Min, s.Max = min(s.Min, p.LoadKW), max(s.Max, p.LoadKW)
	}
	span := s.Max - s.Min
	if span == 0 {
		span = 1
	}
	var b strings.Builder
	for i, p := range ps {
		x := float64(i) * float64(w-4) / float64(len(ps)-1)
		y := float64(h-4) - (p.LoadKW-s.Min)/span*float64(h-8)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(x+2, 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64))
	}
	s.Points = b.String()
	return s
}
