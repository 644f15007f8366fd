// Package mnc is the packed model file (.mnc): the tensors w1, b1, …, wN,
// bN of a network of N dense layers, stored the way compression left them
// (b-bit codes on a scale grid or a codebook, pruned tensors as relative
// index gaps plus the codes of the kept entries, both streams Huffman-coded
// where that is smaller) so that the file's length is the compressed size.
// The layout is specified in FORMAT.md at the repository root.
//
// Pack infers each tensor's structure from its values (which grid or
// codebook reproduces them bit for bit, which entries are zero) and keeps
// the smallest exact encoding; Decode reads a file back, treating every byte
// as hostile: each section carries a CRC-32, every count is checked against
// the bytes that are left before anything is allocated, and the tensors
// must form a network whose shapes chain (File.Layers). Files of the first
// version (two layers) still read.
package mnc
