// Package hl7v2 reads and writes HL7 version 2 messages (ER7, the "pipe
// and hat" encoding), versions 2.1 to 2.8: parsing with the delimiters a
// message declares in MSH-1 and MSH-2, escape sequences, repetitions,
// components and subcomponents, paths such as PID-3[2].1, typed readers
// for the common data types, editing and encoding, acknowledgments
// (original and enhanced mode, with ERR segments) and batch or file
// envelopes (FHS/BHS … BTS/FTS).
//
// The package knows nothing of networks or servers; package mllp frames
// messages on the wire.
//
// Parsing is one pass over the bytes: a Message keeps the input and the
// offsets of its segments and field separators, and finds repetitions,
// components and subcomponents only when they are asked for. Escape
// sequences are decoded when a value is read. A message that has not been
// edited encodes to exactly the bytes it was parsed from. To read every
// value of a message, EachLeafText is the fastest walk.
package hl7v2
