package convert

import (
	"encoding/base64"
	"strings"
	"testing"
)

// docContent returns the decoded text of a stored DocumentReference's
// first attachment ("" without data).
func docContent(t *testing.T, d map[string]any) string {
	t.Helper()
	att := d["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
	data, _ := att["data"].(string)
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMDMEditVersionsTheDocument checks that an MDM^T02 stores one
// DocumentReference with the OBX text as its content, that a later
// T01 notification of the same document leaves it alone, that a T08
// edit makes version 2 of the same DocumentReference with the new text,
// and that a T11 cancellation marks it entered-in-error and keeps the
// content.
func TestMDMEditVersionsTheDocument(t *testing.T) {
	ctx, im, st := newImporter(t)
	t02 := goldenMessage(t, "mdm_t02")
	if _, err := im.Bundle(ctx, convertString(t, t02, Options{MessageID: "d-1"}).Bundle); err != nil {
		t.Fatal(err)
	}
	docs := storedOf(t, st, "DocumentReference")
	if len(docs) != 1 || docs[0]["docStatus"] != "preliminary" ||
		docContent(t, docs[0]) != "Synthetic discharge summary, line one.\nLine two: follow up in two weeks." {
		t.Fatalf("after T02: %v", docs)
	}
	r, err := im.Bundle(ctx, convertString(t, goldenMessage(t, "mdm_t01"), Options{MessageID: "d-0"}).Bundle)
	if err != nil {
		t.Fatal(err)
	}
	if d := storedOf(t, st, "DocumentReference")[0]; d["meta"].(map[string]any)["versionId"] != "1" || r.Updated != 0 {
		t.Errorf("a T01 notification changed the document: %+v %v", r, d["meta"])
	}
	t08 := strings.Replace(goldenMessage(t, "mdm_t08"), "Line two: follow up in two weeks.", "Line two: follow up in one week.", 1)
	if _, err := im.Bundle(ctx, convertString(t, t08, Options{MessageID: "d-2"}).Bundle); err != nil {
		t.Fatal(err)
	}
	docs = storedOf(t, st, "DocumentReference")
	if len(docs) != 1 || docs[0]["meta"].(map[string]any)["versionId"] != "2" || docs[0]["docStatus"] != "amended" ||
		!strings.HasSuffix(docContent(t, docs[0]), "one week.") {
		t.Fatalf("after T08: %v", docs)
	}
	t11 := strings.Replace(goldenMessage(t, "mdm_t11"), "DOC-4003", "DOC-4001", 1)
	if _, err := im.Bundle(ctx, convertString(t, t11, Options{MessageID: "d-3"}).Bundle); err != nil {
		t.Fatal(err)
	}
	docs = storedOf(t, st, "DocumentReference")
	if len(docs) != 1 || docs[0]["status"] != "entered-in-error" || !strings.HasSuffix(docContent(t, docs[0]), "one week.") {
		t.Fatalf("after T11: %v", docs)
	}
}

// TestMDMCancelUnknownDocument checks that cancelling a document the
// store does not hold is refused, not stored as an empty document.
func TestMDMCancelUnknownDocument(t *testing.T) {
	ctx, im, st := newImporter(t)
	if _, err := im.Bundle(ctx, convertString(t, goldenMessage(t, "mdm_t11"), Options{}).Bundle); err == nil {
		t.Fatal("the cancellation of an unknown document was accepted")
	}
	if n := len(storedOf(t, st, "DocumentReference")); n != 0 {
		t.Errorf("%d documents stored", n)
	}
}
