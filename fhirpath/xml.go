package fhirpath

import "errors"

// XMLToJSON converts a FHIR resource in XML to FHIR JSON.
func XMLToJSON(src []byte) ([]byte, error) {
	return nil, errors.New("fhirpath: FHIR XML input is not supported yet")
}
