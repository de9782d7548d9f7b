package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// series is one line of the plot: latency (ms) against callers.
type series struct {
	name   string
	color  color.RGBA
	points [][2]float64 // callers, milliseconds
}

// plotLatency draws the series on log-log axes (callers doubling to the
// right, latency in decades upwards) and writes a PNG.
func plotLatency(path, title string, lines []series) error {
	const w, h, left, right, top, bottom = 960, 600, 80, 250, 40, 60
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range lines {
		for _, p := range s.points {
			if p[1] <= 0 {
				continue
			}
			minX, maxX = math.Min(minX, p[0]), math.Max(maxX, p[0])
			minY, maxY = math.Min(minY, p[1]), math.Max(maxY, p[1])
		}
	}
	if math.IsInf(minX, 0) {
		return fmt.Errorf("nothing to plot")
	}
	if maxX == minX {
		maxX = minX * 2
	}
	loY, hiY := math.Floor(math.Log10(minY)), math.Ceil(math.Log10(maxY))
	if hiY == loY {
		hiY++
	}
	px := func(x float64) int {
		return left + int(float64(w-left-right)*(math.Log2(x)-math.Log2(minX))/(math.Log2(maxX)-math.Log2(minX)))
	}
	py := func(y float64) int {
		return h - bottom - int(float64(h-top-bottom)*(math.Log10(y)-loY)/(hiY-loY))
	}
	grey, black := color.RGBA{220, 220, 220, 255}, color.RGBA{0, 0, 0, 255}
	for d := loY; d <= hiY; d++ {
		y := py(math.Pow(10, d))
		line(img, left, y, w-right, y, grey)
		text(img, 8, y+4, fmt.Sprintf("%g ms", math.Pow(10, d)), black)
	}
	for x := minX; x <= maxX; x *= 2 {
		line(img, px(x), top, px(x), h-bottom, grey)
		text(img, px(x)-6, h-bottom+18, fmt.Sprintf("%g", x), black)
	}
	line(img, left, h-bottom, w-right, h-bottom, black)
	line(img, left, top, left, h-bottom, black)
	text(img, left, 24, title, black)
	text(img, (w-right)/2-40, h-18, "concurrent callers", black)
	for i, s := range lines {
		var prev image.Point
		for j, p := range s.points {
			if p[1] <= 0 {
				continue
			}
			pt := image.Pt(px(p[0]), py(p[1]))
			fill(img, image.Rect(pt.X-3, pt.Y-3, pt.X+4, pt.Y+4), s.color)
			if j > 0 {
				thick(img, prev, pt, s.color)
			}
			prev = pt
		}
		y := top + 20 + 22*i
		fill(img, image.Rect(w-right+15, y-6, w-right+35, y+1), s.color)
		text(img, w-right+42, y+2, s.name, black)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// line draws a one-pixel line by stepping along its longer axis.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= n; i++ {
		img.SetRGBA(x0+(x1-x0)*i/n, y0+(y1-y0)*i/n, c)
	}
}

func thick(img *image.RGBA, a, b image.Point, c color.RGBA) {
	for d := -1; d <= 1; d++ {
		line(img, a.X, a.Y+d, b.X, b.Y+d, c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}
