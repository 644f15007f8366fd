package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"mnistc/mnc"
	"mnistc/model"
)

// packOutput is what `pack --json` and `inspect --json` print.
type packOutput struct {
	File       string              `json:"file"`
	Bytes      int                 `json:"bytes"`
	FloatBytes int                 `json:"float32_bytes"`
	Ratio      float64             `json:"ratio"`
	MetaBytes  int                 `json:"meta_bytes"`
	Arch       string              `json:"arch"`
	Version    int                 `json:"version"`
	Tensors    []mnc.TensorSummary `json:"tensors"`
}

func describeFile(path string, f *mnc.File) packOutput {
	out := packOutput{File: path, Bytes: f.Size, MetaBytes: f.MetaBytes, Version: f.Version, Tensors: f.Summary()}
	if layers, err := f.Layers(); err == nil {
		out.Arch = model.ArchName(mnc.Sizes(layers))
	}
	for _, t := range out.Tensors {
		out.FloatBytes += 4 * t.Weights
	}
	out.Ratio = float64(out.FloatBytes) / float64(max(1, out.Bytes))
	return out
}

// printTable writes the per-tensor table of Deep Compression's Table 2–5:
// weights, kept %, bits per kept weight and per index before and after
// Huffman, bytes and the ratio to float32.
func printTable(w io.Writer, p packOutput) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tensor\tshape\tweights\tkept\tencoding\tcode bits\tindex bits\tbytes\tvs float32")
	for _, t := range p.Tensors {
		idx := "-"
		if t.IndexBits > 0 {
			idx = fmt.Sprintf("%.2f → %.2f", t.IndexBits, t.IndexBitsHuff)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f%%\t%s\t%.2f → %.2f\t%s\t%d\t%.1f×\n", t.Name, shapeText(t.Shape), t.Weights,
			100*float64(t.Kept)/float64(max(1, t.Weights)), t.Encoding, t.CodeBits, t.CodeBitsHuffman, idx, t.Bytes, t.Ratio)
	}
	fmt.Fprintf(tw, "metadata\t\t\t\tJSON, deflated\t\t\t%d\t\n", p.MetaBytes)
	fmt.Fprintf(tw, "file\t\t\t\t(header, framing, CRCs included)\t\t\t%d\t%.1f×\n", p.Bytes, p.Ratio)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "(code and index bits are per kept weight, fixed width → as stored with Huffman; ratios against float32)")
	return err
}

func shapeText(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "×")
}

func runPack(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pack", "pack --model IN.npz --out M.mnc [--lean] [--json]", stdout)
	in := fs.String("model", "", "checkpoint to pack (.npz)")
	out := fs.String("out", "", "packed model to write (.mnc)")
	lean := fs.Bool("lean", false, "keep only the metadata a deployed model needs (activation ranges, recipe, source), as the sweeps' real-size column does; default: all of it")
	asJSON := fs.Bool("json", false, "print the per-tensor table as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("--model is required")
	}
	if err := checkOut("out", *out, ".mnc"); err != nil {
		return err
	}
	if err := checkNotInput("out", *out, map[string]string{"model": *in}); err != nil {
		return err
	}
	ck, err := model.Load(*in)
	if err != nil {
		return err
	}
	if *lean {
		ck.Meta = mnc.Lean(ck.Meta)
	}
	b, f, err := mnc.Pack(ck)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if err := model.WriteFileAtomic(*out, b); err != nil {
		return err
	}
	p := describeFile(*out, f)
	if *asJSON {
		return printJSON(stdout, p)
	}
	fmt.Fprintf(stdout, "%s: %s, %d bytes, %s the %d bytes of float32 parameters\n", *out, p.Arch, p.Bytes, ratioText(p.Ratio), p.FloatBytes)
	return printTable(stdout, p)
}

func runUnpack(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("unpack", "unpack --model M.mnc --out OUT.npz", stdout)
	in := fs.String("model", "", "packed model to read (.mnc)")
	out := fs.String("out", "", "checkpoint to write (.npz, the packed values bit for bit)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("--model is required")
	}
	if err := checkOut("out", *out, ".npz"); err != nil {
		return err
	}
	if err := checkNotInput("out", *out, map[string]string{"model": *in}); err != nil {
		return err
	}
	f, err := loadPacked(*in)
	if err != nil {
		return err
	}
	ck, err := f.Checkpoint()
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if err := ck.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d parameters from %s (%d bytes)\n", *out, ck.Params.Count(), *in, f.Size)
	return nil
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", "inspect M.mnc [--json]", stdout)
	asJSON := fs.Bool("json", false, "print the per-tensor table as JSON")
	path := fs.String("model", "", "packed model (.mnc); or give it as the argument")
	// the file may come anywhere among the flags: take the arguments that
	// are neither flags nor --model's value out before parsing
	var flags, files []string
	for i, a := range args {
		if !strings.HasPrefix(a, "-") && (i == 0 || (args[i-1] != "--model" && args[i-1] != "-model")) {
			files = append(files, a)
		} else {
			flags = append(flags, a)
		}
	}
	if err := fs.parse(flags); err != nil {
		return err
	}
	if *path != "" {
		files = append(files, *path)
	}
	if len(files) > 1 {
		return usagef("want one packed model, got %d: %q", len(files), files)
	}
	if len(files) == 1 {
		*path = files[0]
	}
	if *path == "" {
		return usagef("a packed model (.mnc) is required")
	}
	f, err := loadPacked(*path)
	if err != nil {
		return err
	}
	p := describeFile(*path, f)
	if *asJSON {
		return printJSON(stdout, p)
	}
	fmt.Fprintf(stdout, "%s: %s, mnc version %d, %d bytes, %s float32 (%d bytes)\n", *path, p.Arch, p.Version, p.Bytes, ratioText(p.Ratio), p.FloatBytes)
	if aq := f.Meta.ActQuant; aq != nil {
		fmt.Fprintf(stdout, "activations: %d bits (%s)", aq.Bits, aq.Calib)
		for l, r := range aq.Ranges {
			what := "input"
			if l > 0 {
				what = fmt.Sprintf("hidden %d", l)
			}
			fmt.Fprintf(stdout, ", %s [%g, %g]", what, r.Lo, r.Hi)
		}
		fmt.Fprintln(stdout)
	}
	return printTable(stdout, p)
}

// loadPacked reads and decodes a .mnc file; errors name the file.
func loadPacked(path string) (*mnc.File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := mnc.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// ratioText says how the file compares with float32: "12.0× smaller than",
// or for a file larger than the floats (tiny networks: framing and
// metadata) "1.4× larger than".
func ratioText(r float64) string {
	if r > 0.95 && r < 1.05 {
		return fmt.Sprintf("about the size of (%.3f×)", r)
	}
	if r >= 1 {
		return fmt.Sprintf("%.1f× smaller than", r)
	}
	return fmt.Sprintf("%.1f× larger than", 1/r)
}
