package hl7v2

import (
	"bytes"
	"fmt"
	"strconv"
)

// Batch is the content of an HL7 batch or file: the messages it holds and
// the envelope segments around them (HL7 v2.8 section 2.10.3).
type Batch struct {
	FileHeader  []byte   // FHS segment, nil when absent
	BatchHeader [][]byte // BHS segments
	Messages    [][]byte // each message with CR after every segment
}

// SplitBatch splits data (one message, several messages one after the
// other, or a batch or file with FHS/BHS … BTS/FTS envelopes) into its
// messages. Segments may end in CR, LF or CRLF; a UTF-8 byte-order mark
// and blank lines are skipped. A message starts at each MSH segment, so
// the text "MSH" inside a field does not split anything. When a BTS or FTS
// gives a count, it must match.
func SplitBatch(data []byte) (*Batch, error) {
	b := &Batch{}
	data = bytes.TrimPrefix(data, bom)
	var cur []byte
	inBatch, batchCount, batches := 0, 0, 0
	flush := func() {
		if cur != nil {
			b.Messages = append(b.Messages, cur)
			inBatch++
			cur = nil
		}
	}
	line := 0
	for len(data) > 0 {
		end := bytes.IndexAny(data, "\r\n")
		seg := data
		if end >= 0 {
			seg, data = data[:end], data[end+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(seg)) == 0 {
			continue
		}
		line++
		id := ""
		if len(seg) >= 3 {
			id = string(seg[:3])
		}
		switch id {
		case "MSH":
			flush()
			cur = append(append([]byte{}, seg...), '\r')
		case "FHS":
			flush()
			if b.FileHeader != nil || batches > 0 || len(b.Messages) > 0 {
				return nil, fmt.Errorf("hl7v2: segment %d: FHS must come first, once", line)
			}
			b.FileHeader = bytes.Clone(seg)
		case "BHS":
			flush()
			b.BatchHeader = append(b.BatchHeader, bytes.Clone(seg))
			batches++
			inBatch = 0
		case "BTS":
			flush()
			if n, ok := envelopeCount(seg); ok && n != inBatch {
				return nil, fmt.Errorf("hl7v2: segment %d: BTS counts %d messages, the batch holds %d", line, n, inBatch)
			}
			batchCount++
		case "FTS":
			flush()
			if n, ok := envelopeCount(seg); ok && n != batchCount {
				return nil, fmt.Errorf("hl7v2: segment %d: FTS counts %d batches, the file holds %d", line, n, batchCount)
			}
		default:
			if cur == nil {
				return nil, fmt.Errorf("hl7v2: segment %d (%q) is outside any message", line, id)
			}
			cur = append(append(cur, seg...), '\r')
		}
	}
	flush()
	return b, nil
}

// envelopeCount reads field 1 of a BTS or FTS: the count it declares.
func envelopeCount(seg []byte) (int, bool) {
	if len(seg) < 5 {
		return 0, false
	}
	f := piece(seg[4:], seg[3], 1)
	n, err := strconv.Atoi(string(bytes.TrimSpace(f)))
	return n, err == nil
}
