package hl7v2

import (
	"slices"
	"strings"
	"sync"
)

// Abstract message definitions (HL7 v2 chapters 2 to 12, "message
// structure" tables), written in the standard's own notation:
//
//	SEG        a segment, required, once
//	[ ... ]    optional
//	{ ... }    repeating (one or more)
//	[{ ... }]  optional and repeating
//	< a | b >  exactly one of the alternatives
//
// Brackets around several segments form a segment group, as in the
// standard. Each definition is the union of the structure across
// versions 2.3 to 2.9: a segment added in a later version (SFT, UAC, ARV,
// PRT, OH1-OH4, ...) is optional here, and where versions order or group
// segments differently both forms are accepted, so that a message that is
// valid in the version it declares passes. Each definition is compiled
// once, on first use, into a deterministic automaton over segment IDs
// (compileStructure below); Validate runs it.

// Fragments shared by several structures.
const (
	// The patient head of the ADT messages: v2.9 added the access
	// restrictions after MSH and the occupational data (OH1-OH4) after
	// PD1; v2.4 added ROL, v2.6 ARV, v2.7 PRT.
	adtHead = "MSH [{ARV}] [{SFT}] [UAC] EVN PID [PD1] [{OH1}] [{OH2}] [OH3] [{OH4}] [{ARV}] [{ROL}] [{PRT}]"
	// NEXT_OF_KIN (v2.9 adds OH2 and OH3 inside the group).
	adtKin = "[{ NK1 [{OH2}] [OH3] }]"
	// The visit of the ADT messages with its role segments.
	adtVisit = "PV1 [PV2] [{ARV}] [{ROL}] [{PRT}] [{DB1}]"
	// OBSERVATION (PRT from v2.7).
	adtObs = "[{ OBX [{PRT}] }]"
	// PROCEDURE.
	adtProc = "[{ PR1 [{ROL}] [{PRT}] }]"
	// INSURANCE; AUTHORIZATION and REFERRAL are v2.9.
	adtIns = "[{ IN1 [IN2] [{IN3}] [{ROL}] [{PRT}] [{ AUT [{PRT}] }] [{ RF1 [{PRT}] }] }]"

	// The PATIENT group of the order messages (OMG, OML, ORM).
	orderPatient = "[ PID [PD1] [{PRT}] [{NK1}] [{NTE}] [{NK1}] [{ARV}] [ PV1 [PV2] [{PRT}] ] [{ IN1 [IN2] [IN3] }] [GT1] [{AL1}] ]"
	// PRIOR_RESULT of OMG and OML: prior patient, visit, allergies and
	// orders with their observations. v2.9 moved NTE before TQ1.
	priorResult = "[{ [ PID [PD1] [{PRT}] [{ARV}] ] [ PV1 [PV2] [{PRT}] ] [{AL1}]" +
		" { [ ORC [{PRT}] ] OBR [{NTE}] [{PRT}] [{ TQ1 [{TQ2}] }] [{NTE}] [{PRT}] [CTD] { OBX [{PRT}] [{NTE}] } } }]"
	// COMMON_ORDER of the financial messages (DFT); every segment is
	// optional there.
	dftOrder = "[{ [ORC] [{PRT}] [{ TQ1 [{TQ2}] }] [ OBR [{NTE}] [{PRT}] ] [{ OBX [{PRT}] [{NTE}] }] }]"
	dftIns   = "[{ IN1 [IN2] [{IN3}] [{ROL}] [{PRT}] }]"
	// The BAR visit group.
	barVisit = "[PV1] [PV2] [{ROL}] [{PRT}] [{DB1}] [{OBX}] [{AL1}] [{DG1}] [DRG] [{ PR1 [{ROL}] [{PRT}] }] [{GT1}] [{NK1}]" +
		" [{ IN1 [IN2] [{IN3}] [{ROL}] [{PRT}] }] [ACC] [UB1] [UB2]"
	// The pharmacy order detail (RXO with its routes and components).
	// In RDE the routes are required after RXO.
	rxOrder = "[ RXO [{PRT}] " + rxOrderRoutes + " ] [{PRT}]"
	// In RDS, RGV and RAS (v2.3 to v2.8) the routes and components after
	// RXO form an optional group (ORDER_DETAIL_SUPPLEMENT): RXO may stand
	// alone. (The standard writes that group {NTE} {RXR} ...; the notes
	// are optional here, as in RDE.)
	rxOrderSupplement = "[ RXO [{PRT}] [ " + rxOrderRoutes + " ] ] [{PRT}]"
	rxOrderRoutes     = "[{NTE}] {RXR} [{ RXC [{NTE}] }] [{NTE}]"
	// The pharmacy encoded order (RXE); TQ1 is required from v2.5 and
	// absent before.
	rxEncoded = "RXE [{PRT}] [{NTE}] [{ TQ1 [{TQ2}] }] {RXR} [{RXC}]"
	// An OUL order: v2.8 moved ORC after OBR with an optional order
	// document (OBX TXA).
	oulOrder = "OBR [{PRT}] [ ORC [{PRT}] [ OBX [{PRT}] TXA ] ] [{NTE}] [{PRT}] [{ROL}] [{ TQ1 [{TQ2}] }]"
	oulHead  = "MSH [{SFT}] [UAC] [{NTE}] [ PID [PD1] [{PRT}] [{NTE}] [{ARV}] [{ OBX [{PRT}] }] [ PV1 [PV2] [{PRT}] ] ]" +
		" [ PV1 [PV2] [{PRT}] ] [{NK1}]"
	oulResult = "[{ OBX [{PRT}] [TCD] [{SID}] [{NTE}] }] [{CTI}]"
)

// structureDefs maps each message structure ID (HL7 table 0354) that
// Concord checks to its definition. It is never modified.
var structureDefs = map[string]string{
	// Chapter 2: general acknowledgment.
	"ACK": "MSH [{SFT}] [UAC] MSA [{ERR}]",

	// Chapter 3: patient administration.
	"ADT_A01": adtHead + " " + adtKin + " " + adtVisit + " " + adtObs + " [{AL1}] [{IAM}] [{DG1}] [DRG] " + adtProc +
		" [{GT1}] " + adtIns + " [ACC] [UB1] [UB2] [PDA]",
	"ADT_A02": adtHead + " " + adtVisit + " " + adtObs + " [PDA]",
	// A03 carries OBX after the procedures.
	"ADT_A03": adtHead + " " + adtKin + " " + adtVisit + " [{AL1}] [{IAM}] [{DG1}] [DRG] " + adtProc + " " + adtObs +
		" [{GT1}] " + adtIns + " [ACC] [PDA]",
	"ADT_A05": adtHead + " " + adtKin + " " + adtVisit + " " + adtObs + " [{AL1}] [{IAM}] [{DG1}] [DRG] " + adtProc +
		" [{GT1}] " + adtIns + " [ACC] [UB1] [UB2]",
	"ADT_A06": adtHead + " [MRG] " + adtKin + " " + adtVisit + " " + adtObs + " [{AL1}] [{IAM}] [{DG1}] [DRG] " + adtProc +
		" [{GT1}] " + adtIns + " [ACC] [UB1] [UB2]",
	"ADT_A09": "MSH [{ARV}] [{SFT}] [UAC] EVN PID [PD1] PV1 [PV2] [{DB1}] " + adtObs + " [{DG1}]",
	"ADT_A12": "MSH [{ARV}] [{SFT}] [UAC] EVN PID [PD1] PV1 [PV2] [{DB1}] " + adtObs + " [DG1]",
	"ADT_A15": "MSH [{ARV}] [{SFT}] [UAC] EVN PID [PD1] [{ARV}] [{ROL}] [{PRT}] " + adtVisit + " " + adtObs + " [{DG1}]",
	"ADT_A16": "MSH [{ARV}] [{SFT}] [UAC] EVN PID [PD1] [{ARV}] [{ROL}] [{PRT}] [{NK1}] " + adtVisit + " " + adtObs +
		" [{AL1}] [{IAM}] [{DG1}] [DRG] " + adtProc + " [{GT1}] " + adtIns + " [ACC]",
	"ADT_A17": "MSH [{ARV}] [{SFT}] [UAC] EVN PID [PD1] PV1 [PV2] [{DB1}] " + adtObs +
		" PID [PD1] PV1 [PV2] [{DB1}] " + adtObs,
	// MRG was optional in v2.3.
	"ADT_A18": "MSH [{SFT}] [UAC] EVN PID [PD1] [MRG] PV1",
	"ADT_A20": "MSH [{SFT}] [UAC] EVN NPU",
	"ADT_A21": "MSH [{ARV}] [{SFT}] [UAC] EVN PID [PD1] PV1 [PV2] [{DB1}] " + adtObs,
	"ADT_A24": "MSH [{SFT}] [UAC] EVN PID [PD1] [PV1] [{DB1}] PID [PD1] [PV1] [{DB1}]",
	"ADT_A30": "MSH [{SFT}] [UAC] EVN PID [PD1] [{ARV}] MRG",
	"ADT_A37": "MSH [{SFT}] [UAC] EVN PID [PD1] [PV1] [{DB1}] PID [PD1] [PV1] [{DB1}]",
	"ADT_A38": "MSH [{SFT}] [UAC] EVN PID [PD1] PV1 [PV2] [{DB1}] [{OBX}] [{DG1}] [DRG]",
	"ADT_A39": "MSH [{SFT}] [UAC] EVN { PID [PD1] MRG [PV1] }",
	"ADT_A43": "MSH [{SFT}] [UAC] EVN { PID [PD1] [{ARV}] MRG }",
	"ADT_A44": "MSH [{SFT}] [UAC] EVN { PID [PD1] [{ARV}] MRG }",
	"ADT_A45": "MSH [{SFT}] [UAC] EVN PID [PD1] { MRG PV1 }",
	"ADT_A50": "MSH [{SFT}] [UAC] EVN PID [PD1] MRG PV1",
	"ADT_A52": "MSH [{SFT}] [UAC] EVN PID [PD1] PV1 [PV2]",
	"ADT_A54": "MSH [{SFT}] [UAC] EVN PID [PD1] [{ROL}] [{PRT}] PV1 [PV2] [{ROL}] [{PRT}]",
	"ADT_A60": "MSH [{SFT}] [UAC] EVN PID [{ARV}] [PV1] [PV2] [{ARV}] [{ IAM [{NTE}] [{IAR}] }]",
	"ADT_A61": "MSH [{SFT}] [UAC] EVN PID [PD1] [{ROL}] [{PRT}] PV1 [{ROL}] [{PRT}] [PV2] [{ROL}] [{PRT}]",

	// Chapter 6: financial management.
	"BAR_P01": "MSH [{SFT}] [UAC] EVN PID [PD1] [{ROL}] [{PRT}] { " + barVisit + " }",
	"BAR_P02": "MSH [{SFT}] [UAC] EVN { PID [PD1] [PV1] [{DB1}] }",
	"BAR_P05": "MSH [{SFT}] [UAC] EVN PID [PD1] [{ROL}] [{PRT}] { " + barVisit + " [ABS] [{BLC}] [RMI] }",
	"BAR_P06": "MSH [{SFT}] [UAC] EVN { PID [PV1] }",
	"BAR_P10": "MSH [{SFT}] [UAC] EVN PID PV1 [{DG1}] GP1 [{ PR1 [GP2] }]",
	"BAR_P12": "MSH [{SFT}] [UAC] EVN PID PV1 [{DG1}] [DRG] [{ PR1 [{ROL}] [{PRT}] }] [{OBX}]",
	"DFT_P03": "MSH [{SFT}] [UAC] EVN PID [PD1] [{ROL}] [{PRT}] [PV1] [PV2] [{ROL}] [{PRT}] [{DB1}] " + dftOrder +
		" { FT1 [{NTE}] [{PRT}] [{ PR1 [{ROL}] [{PRT}] }] " + dftOrder + " }" +
		" [{DG1}] [DRG] [{GT1}] " + dftIns + " [ACC]",
	"DFT_P11": "MSH [{SFT}] [UAC] EVN PID [PD1] [{ROL}] [{PRT}] [PV1] [PV2] [{ROL}] [{PRT}] [{DB1}] " + dftOrder +
		" [{DG1}] [DRG] [{GT1}] " + dftIns + " [ACC]" +
		" { FT1 [{NTE}] [{PRT}] [{ PR1 [{ROL}] [{PRT}] }] " + dftOrder + " [{DG1}] [DRG] [{GT1}] " + dftIns + " }",

	// Chapter 4: orders. ORM_O01 (withdrawn in v2.7) takes one order
	// detail segment; supply requisitions may follow RQD with RQ1.
	"ORM_O01": "MSH [{SFT}] [UAC] [{NTE}] [ PID [PD1] [{NTE}] [ PV1 [PV2] ] [{ IN1 [IN2] [{IN3}] }] [GT1] [{AL1}] ]" +
		" { ORC [ < OBR | RQD [RQ1] | RQ1 | RXO | ODS | ODT > [{NTE}] [CTD] [{DG1}] [{ OBX [{NTE}] }] ] [{FT1}] [{CTI}] [BLG] }",
	"ORR_O02": "MSH MSA [{ERR}] [{SFT}] [UAC] [{NTE}] [ [ PID [{NTE}] ] { ORC [ < OBR | RQD | RQ1 | RXO | ODS | ODT > ] [{NTE}] [{CTI}] } ]",
	"OMG_O19": "MSH [{ARV}] [{SFT}] [UAC] [{NTE}] " + orderPatient +
		" { ORC [{PRT}] [{ TQ1 [{TQ2}] }] OBR [{NTE}] [{PRT}] [CTD] [{DG1}] [{ OBX [{PRT}] [{NTE}] }]" +
		" [{ SPM [{ OBX [{PRT}] }] [{ SAC [{ OBX [{PRT}] }] }] }] " + priorResult + " [{FT1}] [{CTI}] [BLG] }",
	// OML_O21: v2.4 put containers (SAC) before the order and after OBR;
	// v2.9 added the specimen group headers SGH and SGT.
	"OML_O21": "MSH [{ARV}] [{SFT}] [UAC] [{NTE}] " + orderPatient +
		" { [ SAC [{OBX}] ] ORC [{PRT}] [{ TQ1 [{TQ2}] }]" +
		" [ OBR [{ SAC [{OBX}] }] [TCD] [{NTE}] [{PRT}] [CTD] [{DG1}] [{ OBX [{PRT}] [TCD] [{NTE}] }]" +
		" [{ SPM [{ OBX [{PRT}] }] [{ SAC [{ OBX [{PRT}] }] }] }] [SGH] " + priorResult + " [SGT] ]" +
		" [{FT1}] [{CTI}] [BLG] }",
	"OML_O33": "MSH [{ARV}] [{SFT}] [UAC] [{NTE}] " + orderPatient +
		" { SPM [{ OBX [{PRT}] }] [{SAC}] { ORC [{PRT}] [{ TQ1 [{TQ2}] }]" +
		" [ OBR [TCD] [{NTE}] [{PRT}] [CTD] [{DG1}] [{ OBX [{PRT}] [TCD] [{NTE}] }] " + priorResult + " ]" +
		" [{FT1}] [{CTI}] [BLG] } }",
	"OML_O35": "MSH [{ARV}] [{SFT}] [UAC] [{NTE}] " + orderPatient +
		" { SPM [{ OBX [{PRT}] }] [{NTE}] { SAC { ORC [{PRT}] [{ TQ1 [{TQ2}] }]" +
		" [ OBR [TCD] [{NTE}] [{PRT}] [CTD] [{DG1}] [{ OBX [{PRT}] [TCD] [{NTE}] }] " + priorResult + " ]" +
		" [{FT1}] [{CTI}] [BLG] } } }",
	// OMI_O23 (imaging order): each order's OBR is required and followed
	// by at least one IPC (imaging procedure control) segment; v2.6 added
	// OBX under IPC.
	"OMI_O23": "MSH [{ARV}] [{SFT}] [UAC] [{NTE}] " + orderPatient +
		" { ORC [{PRT}] [{ TQ1 [{TQ2}] }] OBR [{NTE}] [{PRT}] [CTD] [{DG1}] [{ OBX [{PRT}] [{NTE}] }] { IPC [{OBX}] } }",
	// ORL_O22: v2.4 nested containers under the patient.
	"ORL_O22": "MSH MSA [{ERR}] [{SFT}] [UAC] [{NTE}]" +
		" [ PID [{PRT}] [{ [ SAC [{OBX}] ] [{ ORC [{PRT}] [{ TQ1 [{TQ2}] }] [ OBR [{PRT}] [{ROL}] [{SAC}] [{ SPM [{SAC}] }] ] }] }] ]",
	"ORL_O34": "MSH MSA [{ERR}] [{SFT}] [UAC] [{NTE}]" +
		" [ PID [{PRT}] { SPM [{ OBX [{PRT}] }] [{SAC}] [{ ORC [{PRT}] [{ TQ1 [{TQ2}] }] [ OBR [{PRT}] [{ROL}] ] }] } ]",
	"ORL_O36": "MSH MSA [{ERR}] [{SFT}] [UAC] [{NTE}]" +
		" [ PID [{PRT}] { SPM [{ OBX [{PRT}] }] [{NTE}] { SAC [{ ORC [{PRT}] [{ TQ1 [{TQ2}] }] [ OBR [{PRT}] [{ROL}] ] }] } } ]",

	// Chapter 7: observation reporting. ORU_R01 takes NK1 before NTE
	// (v2.3.1, v2.4) or after (v2.5 on); OBX without OBR-level grouping
	// (v2.3: an observation group whose OBX is optional); the order
	// document (OBX TXA) of v2.8.
	"ORU_R01": "MSH [{SFT}] [UAC]" +
		" { [ PID [PD1] [{PRT}] [{NK1}] [{NTE}] [{NK1}] [{ARV}] [{ OBX [{PRT}] }] [ PV1 [PV2] [{PRT}] ] ]" +
		" { [ ORC [{PRT}] [ OBX [{PRT}] TXA ] ] OBR [{NTE}] [{PRT}] [{ROL}] [{ TQ1 [{TQ2}] }] [CTD]" +
		" [{ [OBX] [{PRT}] [{NTE}] }] [{FT1}] [{CTI}] [{ SPM [{ OBX [{PRT}] }] }] } } [DSC]",
	"ORU_R30": "MSH [{SFT}] [UAC] PID [PD1] [{PRT}] [{ARV}] [{ OBX [{PRT}] }] [ PV1 [PV2] [{PRT}] ]" +
		" ORC [{PRT}] OBR [{NTE}] [{PRT}] [{ROL}] [{ TQ1 [{TQ2}] }] { OBX [{PRT}] [{NTE}] }",
	"OUL_R22": oulHead + " { SPM [{ OBX [{PRT}] }] [{ SAC [INV] }] { " + oulOrder + " " + oulResult + " } } [DSC]",
	"OUL_R23": oulHead + " { SPM [{ OBX [{PRT}] }] { SAC [INV] { " + oulOrder + " " + oulResult + " } } } [DSC]",
	"OUL_R24": oulHead + " { " + oulOrder + " [{ SPM [{ OBX [{PRT}] }] [{ SAC [INV] }] }] " + oulResult + " } [DSC]",

	// Chapter 4A: pharmacy and immunization. Versions before 2.5 made the
	// observation's OBX optional in its group.
	"RDE_O11": "MSH [{SFT}] [UAC] [{NTE}] [ PID [PD1] [{PRT}] [{NTE}] [ PV1 [PV2] [{PRT}] ] [{ IN1 [IN2] [IN3] }] [GT1] [{AL1}] ]" +
		" { ORC [{PRT}] [{ TQ1 [{TQ2}] }] " + rxOrder + " " + rxEncoded + " [{CDO}] [{ [OBX] [{PRT}] [{NTE}] }]" +
		" [{FT1}] [BLG] [{CTI}] }",
	"RDS_O13": "MSH [{SFT}] [UAC] [{NTE}] [ PID [ PD1 [{PRT}] ] [{NTE}] [{AL1}] [ PV1 [PV2] [{PRT}] ] ]" +
		" { ORC [{PRT}] [{ TQ1 [{TQ2}] }] " + rxOrderSupplement + " [ " + rxEncoded + " ]" +
		" RXD [{PRT}] [{NTE}] {RXR} [{RXC}] [{CDO}] [{ OBX [{PRT}] [{NTE}] }] [{FT1}] }",
	"RAS_O17": "MSH [{SFT}] [UAC] [{NTE}] [ PID [ PD1 [{PRT}] ] [{NTE}] [{AL1}] [ PV1 [PV2] [{PRT}] ] ]" +
		" { ORC [{PRT}] [{ TQ1 [{TQ2}] }] " + rxOrderSupplement + " [ " + rxEncoded + " ]" +
		" { {RXA} [{PRT}] RXR [{ OBX [{PRT}] [{NTE}] }] } [{CTI}] }",
	"RGV_O15": "MSH [{SFT}] [UAC] [{NTE}] [ PID [{NTE}] [{AL1}] [ PV1 [PV2] [{PRT}] ] ]" +
		" { ORC [{PRT}] [{ TQ1 [{TQ2}] }] " + rxOrderSupplement + " [ " + rxEncoded + " ]" +
		" { RXG [{ TQ1 [{TQ2}] }] {RXR} [{RXC}] [{ [OBX] [{PRT}] [{NTE}] }] } }",
	// VXU_V04: ORC was optional before v2.5; v2.8 added the person
	// observations before the orders.
	"VXU_V04": "MSH [{SFT}] [UAC] PID [PD1] [{NK1}] [{ARV}] [ PV1 [PV2] [{ARV}] ] [{GT1}] [{ IN1 [IN2] [IN3] }]" +
		" [{ OBX [{PRT}] [{NTE}] }] [{ [ ORC [{PRT}] ] [{ TQ1 [{TQ2}] }] RXA [RXR] [{ OBX [{PRT}] [{NTE}] }] }]",

	// Chapter 5: queries (the fixed parts; query-specific responses such
	// as RSP_K11 are not checked).
	"QBP_Q11": "MSH [{SFT}] [UAC] [EVN] QPD [RCP] [DSC]",
	"QBP_Q21": "MSH [{SFT}] [UAC] QPD RCP [DSC]",
	"RSP_K21": "MSH [{SFT}] [UAC] MSA [{ERR}] QAK QPD [ PID [PD1] [{ARV}] [{NK1}] [QRI] ] [DSC]",
	"RSP_K22": "MSH [{SFT}] [UAC] MSA [{ERR}] QAK QPD [{ PID [PD1] [{ARV}] [{NK1}] [QRI] }] [DSC]",
	"RSP_K23": "MSH [{SFT}] [UAC] MSA [{ERR}] QAK QPD [PID] [DSC]",

	// Chapter 9: medical records.
	"MDM_T01": "MSH [{SFT}] [UAC] EVN PID PV1 [{ ORC [{PRT}] [{ TQ1 [{TQ2}] }] OBR [{NTE}] [{PRT}] }] TXA [{CON}]",
	"MDM_T02": "MSH [{SFT}] [UAC] EVN PID PV1 [{ ORC [{PRT}] [{ TQ1 [{TQ2}] }] OBR [{NTE}] [{PRT}] }] TXA [{CON}]" +
		" { OBX [{PRT}] [{NTE}] }",

	// Chapter 10: scheduling.
	"SIU_S12": "MSH [{SFT}] [UAC] SCH [{TQ1}] [{NTE}] [{ PID [PD1] [{PRT}] [PV1] [PV2] [{PRT}] [{OBX}] [{DG1}] }]" +
		" { RGS [{ AIS [{NTE}] }] [{ AIG [{NTE}] }] [{ AIL [{NTE}] }] [{ AIP [{NTE}] }] }",

	// Chapter 11: referrals.
	"REF_I12": "MSH [{SFT}] [UAC] [RF1] [ AUT [CTD] ] { PRD [{CTD}] } PID [{NK1}] [{GT1}] [{ IN1 [IN2] [IN3] }] [ACC]" +
		" [{DG1}] [{DRG}] [{AL1}] [{ PR1 [ AUT [CTD] ] }] [{ OBR [{NTE}] [{PRT}] [{ OBX [{PRT}] [{NTE}] }] }] [ PV1 [PV2] ] [{NTE}]",
	"RRI_I12": "MSH [{SFT}] [UAC] [MSA] [RF1] [ AUT [CTD] ] { PRD [{CTD}] } PID [ACC] [{DG1}] [{DRG}] [{AL1}]" +
		" [{ PR1 [ AUT [CTD] ] }] [{ OBR [{NTE}] [{PRT}] [{ OBX [{PRT}] [{NTE}] }] }] [ PV1 [PV2] ] [{NTE}]",

	// Chapter 12: patient care (problems).
	"PPR_PC1": "MSH [{SFT}] [UAC] PID [ PV1 [PV2] ]" +
		" { PRB [{NTE}] [{VAR}] [{ ROL [{VAR}] }] [{ PTH [{VAR}] }] [{ OBX [{NTE}] }]" +
		" [{ GOL [{NTE}] [{VAR}] [{ ROL [{VAR}] }] [{ OBX [{NTE}] }] }]" +
		" [{ ORC [ < OBR | RXO | RXE > [{NTE}] [{VAR}] [{ OBX [{NTE}] [{VAR}] }] ] }] }",
}

// eventDefs gives, for each message type (HL7 table 0076), its trigger
// events (table 0003) and the structure (table 0354) each uses, in
// versions 2.3 to 2.9: "A01 A04 A08 A13=ADT_A01" means those four events
// use ADT_A01, "A10-A12" is a range, and an event without "=" has no
// structure Concord checks. Where the structure changed between versions
// both are listed, the older first (versionOrder picks). "*" accepts any
// trigger (ACK echoes the acknowledged event); "Z*" accepts site-defined
// query names. Table 0354 keeps A40, A41 and A42 on ADT_A39 in every
// version (ADT_A40 is an event name, not a structure), and O25 on
// RDE_O11. It is never modified.
var eventDefs = map[string]string{
	"ACK": "*=ACK",
	"ADT": "A01 A04 A08 A13=ADT_A01; A02=ADT_A02; A03=ADT_A03; A05 A14 A28 A31=ADT_A05; A06 A07=ADT_A06;" +
		" A09-A11=ADT_A09; A12=ADT_A12; A15=ADT_A15; A16=ADT_A16; A17=ADT_A17; A18=ADT_A18; A20=ADT_A20;" +
		" A21-A23 A25-A27 A29 A32 A33=ADT_A21; A24=ADT_A24; A30 A34-A36 A46 A48=ADT_A30; A37=ADT_A37; A38=ADT_A38;" +
		" A39-A42=ADT_A39; A43=ADT_A43; A44=ADT_A43 ADT_A44; A45=ADT_A45; A47=ADT_A30 ADT_A44; A49=ADT_A30 ADT_A43;" +
		" A50 A51=ADT_A50; A52 A53=ADT_A52; A54 A55=ADT_A54; A60=ADT_A60; A61 A62=ADT_A61",
	"BAR": "P01=BAR_P01; P02=BAR_P02; P05=BAR_P05; P06=BAR_P06; P10=BAR_P10; P12=BAR_P12",
	"DFT": "P03=DFT_P03; P11=DFT_P11",
	"MDM": "T01 T03 T05 T07 T09 T11=MDM_T01; T02 T04 T06 T08 T10=MDM_T02",
	"MFN": "M01-M18", "MFK": "M01-M18", "MFQ": "M01", "MFR": "M01 M04-M07",
	"OMB": "O27", "OMD": "O03", "OMI": "O23=OMI_O23", "OMN": "O07", "OMP": "O09", "OMS": "O05", "OPL": "O37",
	"OMG": "O19=OMG_O19",
	"OML": "O21=OML_O21; O33=OML_O33; O35=OML_O35; O39 O59",
	"ORM": "O01=ORM_O01",
	"ORR": "O02=ORR_O02",
	"ORL": "O22=ORL_O22; O34=ORL_O34; O36=ORL_O36; O40 O41-O44 O53-O56",
	"ORB": "O28", "ORD": "O04", "ORG": "O20", "ORI": "O24", "ORN": "O08", "ORP": "O10", "ORS": "O06", "OPR": "O38",
	"ORU": "R01=ORU_R01; R30-R32=ORU_R30; W01",
	"OUL": "R21; R22=OUL_R22; R23=OUL_R23; R24=OUL_R24",
	"OSU": "O41 O51 O52", "OPU": "R25", "ORA": "R33", "OSM": "R26",
	"RDE": "O01 O11 O25=RDE_O11; O49",
	"RDS": "O01 O13=RDS_O13",
	"RAS": "O01 O17=RAS_O17",
	"RGV": "O01 O15=RGV_O15",
	"RRE": "O12 O26 O50", "RRD": "O14", "RRA": "O18", "RRG": "O16", "RDR": "RDR",
	"VXU": "V04=VXU_V04", "VXQ": "V01", "VXR": "V03", "VXX": "V02",
	"QBP": "Q11=QBP_Q11; Q13 Q15; Q21-Q25=QBP_Q21; Q31 Q32 K13 E03 E22 O33 O34 Z*",
	"RSP": "K11 K13 K15; K21=RSP_K21; K22=RSP_K22; K23 K24=RSP_K23; K25 K31 K32 E03 E22 O33 O34 Q11 Z*",
	"RTB": "K13 Q13 Z*", "RDY": "K15 Z*", "QSB": "Q16 Z*", "QVR": "Q17", "QCN": "J01", "QSX": "J02", "QCK": "Q02",
	"QRY": "A19 PC4 PC9 PCE PCK Q01 Q02 Q26-Q30 R02 T12", "ADR": "A19",
	"SIU": "S12-S24 S26 S27=SIU_S12",
	"SRM": "S01-S11", "SRR": "S01-S11", "SQM": "S25", "SQR": "S25",
	"SDR": "S31", "SMD": "S32", "STC": "S33", "STI": "S30", "SLR": "S28 S29", "SLN": "S34 S35", "SDN": "S36", "SCN": "S37",
	"REF": "I12-I15=REF_I12",
	"RRI": "I12-I15=RRI_I12",
	"RQA": "I08-I11", "RPA": "I08-I11", "RQI": "I01-I03", "RPI": "I01 I04", "RPL": "I02", "RPR": "I03",
	"RQP": "I04", "RQC": "I05 I06", "RCI": "I05", "RCL": "I06",
	"CCR": "I16 I17", "CCU": "I20", "CCQ": "I19", "CCM": "I21", "CCI": "I22", "CCF": "I22", "CQU": "I19",
	"PPR": "PC1-PC3=PPR_PC1",
	"PGL": "PC6-PC8", "PPG": "PCG PCH PCJ", "PPP": "PCB PCC PCD", "PPT": "PCL", "PPV": "PCA", "PRR": "PC5", "PTR": "PCF",
	"PEX": "P07 P08", "SUR": "P09", "PIN": "I07", "PMU": "B01-B08",
	"CRM": "C01-C08", "CSU": "C09-C12",
	"EAC": "U07", "EAN": "U09", "EAR": "U08", "ESR": "U02", "ESU": "U01", "INR": "U06", "INU": "U05",
	"LSR": "U13", "LSU": "U12", "SSR": "U04", "SSU": "U03", "TCR": "U11", "TCU": "U10",
	"EHC": "E01 E02 E04 E10 E12 E13 E15 E20 E21 E24",
	"NMD": "N02", "NMQ": "N01", "NMR": "N01",
	"BPS": "O29", "BRP": "O30", "BRT": "O32", "BTS": "O31",
	"DOC": "T12", "DSR": "Q01 Q03", "EDR": "R07", "EQQ": "Q04", "ERP": "R09", "SPQ": "Q08", "TBR": "R08",
	"UDM": "Q05", "VQQ": "Q07", "RQQ": "Q09", "ORF": "R04", "OSQ": "Q06", "OSR": "Q06",
}

// messageEvents is one message type's events, compiled from eventDefs.
type messageEvents struct {
	any        bool                // every trigger is accepted
	zTriggers  bool                // site-defined triggers Z.. are accepted
	structures map[string][]string // trigger -> structures, newest version's first
}

// eventTable returns the compiled eventDefs.
var eventTable = sync.OnceValue(func() map[string]*messageEvents {
	out := make(map[string]*messageEvents, len(eventDefs))
	for code, def := range eventDefs {
		me := &messageEvents{structures: map[string][]string{}}
		for _, part := range strings.Split(def, ";") {
			events, structs, _ := strings.Cut(strings.TrimSpace(part), "=")
			for _, ev := range strings.Fields(events) {
				switch ev {
				case "*":
					me.any = true
					me.structures["*"] = strings.Fields(structs)
					continue
				case "Z*":
					me.zTriggers = true
					continue
				}
				for _, e := range expandRange(ev) {
					me.structures[e] = strings.Fields(structs)
				}
			}
		}
		out[code] = me
	}
	return out
})

// expandRange expands "A21-A23" into A21, A22, A23 (same prefix, numeric
// suffixes); anything else is returned as it is.
func expandRange(ev string) []string {
	lo, hi, ok := strings.Cut(ev, "-")
	if !ok || len(lo) != len(hi) {
		return []string{ev}
	}
	p := 0
	for p < len(lo) && (lo[p] < '0' || lo[p] > '9') {
		p++
	}
	if p == len(lo) || lo[:p] != hi[:p] {
		return []string{ev}
	}
	a, b := atoiDigits(lo[p:]), atoiDigits(hi[p:])
	if a < 0 || b < a {
		return []string{ev}
	}
	var out []string
	for n := a; n <= b; n++ {
		s := itoa(n)
		for len(s) < len(lo)-p {
			s = "0" + s
		}
		out = append(out, lo[:p]+s)
	}
	return out
}

func atoiDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// eventStructures returns the structures a message type and trigger use
// (the version's own first) and whether the pair is known at all.
func eventStructures(code, trigger, version string) (structs []string, known bool) {
	me, ok := eventTable()[code]
	if !ok {
		return nil, false
	}
	if s, ok := me.structures[trigger]; ok {
		return versionOrder(code, trigger, version, s), true
	}
	if me.any {
		return me.structures["*"], true
	}
	if me.zTriggers && len(trigger) == 3 && trigger[0] == 'Z' {
		return nil, true
	}
	return nil, false
}

// versionOrder puts first the structure an event uses in the message's
// version where versions differ: A44, A47 and A49 moved to ADT_A43 and
// ADT_A44 when ADT_A30 was withdrawn in v2.7.
func versionOrder(code, trigger, version string, s []string) []string {
	if code != "ADT" || len(s) < 2 || s[0] != "ADT_A30" && s[0] != "ADT_A43" {
		return s
	}
	if version != "" && compareVersion(version, "2.7") >= 0 {
		return []string{s[1], s[0]}
	}
	return s
}

// knownMessageCode reports whether code is a message type of table 0076.
func knownMessageCode(code string) bool {
	_, ok := eventTable()[code]
	return ok
}

// Structure returns the abstract message structure ID for m: MSH-9.3 when
// it names a structure, else the structure of MSH-9.1 and MSH-9.2 (ADT^A04
// uses ADT_A01; before v2.3, when MSH-9 has no trigger, EVN-1 gives the
// event), and whether Concord knows that structure. A message whose
// MSH-9.3 repeats its event (ADT_A04 for ADT^A04, a common deviation:
// table 0354 has no such structure) gets the event's structure.
func Structure(m *Message) (string, bool) {
	st, _ := resolveStructure(m)
	if st == "" {
		return "", false
	}
	return st, lookupStructure(st) != nil
}

// resolveStructure returns the structure to check m against and whether
// MSH-9.3 named an event rather than a structure.
func resolveStructure(m *Message) (st string, eventNamed bool) {
	if m == nil || len(m.segs) == 0 {
		return "", false
	}
	code, trigger, declared := m.MessageType()
	version := m.Version()
	if trigger == "" {
		// Before v2.3 the event is in EVN-1, not MSH-9.
		if evn, ok := m.Find("EVN", 1); ok {
			trigger = evn.Field(1).String()
		}
	}
	structs, _ := eventStructures(code, trigger, version)
	if declared != "" {
		if _, ok := structureDefs[declared]; ok || len(structs) == 0 || declared != code+"_"+trigger {
			return declared, false
		}
		return structs[0], true
	}
	if len(structs) > 0 {
		return structs[0], false
	}
	if code != "" && trigger != "" && knownMessageCode(code) {
		return code + "_" + trigger, false
	}
	return "", false
}

// hl7Segments lists the segment IDs the standard defines (v2.3 to v2.9),
// to tell an unknown segment from one merely out of place. It is never
// modified.
var hl7Segments = func() map[string]bool {
	ids := "ABS ACC ADD ADJ AFF AIG AIL AIP AIS AL1 APR ARQ ARV AUT BHS BLC BLG BPO BPX BTS BTX BUI CDM CDO CER CM0 CM1 CM2" +
		" CNS CON CSP CSR CSS CTD CTI CTR DB1 DEV DG1 DMI DON DPS DRG DSC DSP DST ECD ECR EDU EQL EQP EQU ERQ ERR EVN" +
		" FAC FHS FT1 FTS GOL GP1 GP2 GT1 IAM IAR IIM ILT IN1 IN2 IN3 INV IPC IPR ISD ITM IVC IVT LAN LCC LCH LDP LOC LRL" +
		" MCP MFA MFE MFI MRG MSA MSH NCK NDS NK1 NPU NSC NST NTE OBR OBX ODS ODT OH1 OH2 OH3 OH4 OM1 OM2 OM3 OM4 OM5 OM6" +
		" OM7 ORC ORG OVR PAC PCE PCR PD1 PDA PDC PEO PES PID PKG PMT PR1 PRA PRB PRC PRD PRT PSG PSH PSL PSS PTH PV1 PV2" +
		" PYE QAK QID QPD QRD QRF QRI RCP RDF RDT REL RF1 RFI RGS RMI ROL RQ1 RQD RXA RXC RXD RXE RXG RXO RXR RXV SAC SCD" +
		" SCH SCP SDD SFT SGH SGT SHP SID SLT SPM SPR STF STZ TCC TCD TQ1 TQ2 TXA UAC UB1 UB2 URD URS VAR VND"
	out := map[string]bool{}
	for _, id := range strings.Fields(ids) {
		out[id] = true
	}
	return out
}()

// structure is a compiled message definition: a deterministic automaton
// over the segment IDs of the definition, with the tables that error
// recovery needs. It is built once and never modified.
type structure struct {
	id     string
	syms   map[[3]byte]int16 // segment ID -> symbol
	names  []string          // symbol -> segment ID
	next   []int32           // state*len(names)+symbol -> state, or -1
	accept []bool            // state -> the message may end here
	// The transitions of state s, as in next, are outSym[outFrom[s]:
	// outFrom[s+1]] leading to outTo[...]: a compact list for the
	// alignment, which visits every transition.
	outFrom []int32
	outSym  []int16
	outTo   []int32
	// via[state*len(names)+symbol] is the first segment to insert on a
	// shortest way from state to one that reads symbol: viaReads when
	// state reads it already, viaNone when no way exists.
	via []int16
	// toEnd[state] is the first segment to insert on a shortest way to an
	// accepting state, viaReads when state accepts.
	toEnd []int16
}

const (
	viaReads = -2
	viaNone  = -1
	// maxStates caps a compiled automaton; the definitions above need a
	// few hundred states at most.
	maxStates = 4096
)

// compiledStructures holds one lazily compiled automaton per definition.
// The map is built at package initialisation and never modified; each
// entry compiles itself once, on first use.
var compiledStructures = func() map[string]*lazyStructure {
	out := make(map[string]*lazyStructure, len(structureDefs))
	for id, def := range structureDefs {
		out[id] = &lazyStructure{id: id, def: def}
	}
	return out
}()

type lazyStructure struct {
	id, def string
	once    sync.Once
	st      *structure
	err     error
}

func (l *lazyStructure) get() (*structure, error) {
	l.once.Do(func() { l.st, l.err = compileStructure(l.id, l.def) })
	return l.st, l.err
}

// lookupStructure returns the compiled structure id, or nil when Concord
// has no definition for it.
func lookupStructure(id string) *structure {
	l := compiledStructures[id]
	if l == nil {
		return nil
	}
	st, err := l.get()
	if err != nil {
		return nil
	}
	return st
}

// defNode is a parsed definition: a segment, a sequence, an optional or
// repeating part, or a choice.
type defNode struct {
	kind byte // 's' segment, 'q' sequence, 'o' optional, 'r' repeating, 'c' choice
	seg  string
	kids []*defNode
}

// parseDefinition parses the notation described at the top of this file.
func parseDefinition(def string) (*defNode, error) {
	var toks []string
	for i := 0; i < len(def); {
		c := def[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case strings.IndexByte("[]{}<>|", c) >= 0:
			toks = append(toks, def[i:i+1])
			i++
		default:
			j := i
			for j < len(def) && (def[j] >= 'A' && def[j] <= 'Z' || def[j] >= '0' && def[j] <= '9') {
				j++
			}
			if j-i != 3 {
				return nil, errorString("definition: bad segment ID near " + def[i:min(len(def), i+8)])
			}
			toks = append(toks, def[i:j])
			i = j
		}
	}
	p := 0
	var seq func(stop string) (*defNode, error)
	seq = func(stop string) (*defNode, error) {
		n := &defNode{kind: 'q'}
		for p < len(toks) && !strings.Contains(stop, toks[p]) {
			t := toks[p]
			p++
			switch t {
			case "[", "{":
				closer := map[string]string{"[": "]", "{": "}"}[t]
				inner, err := seq(closer)
				if err != nil {
					return nil, err
				}
				if p >= len(toks) || toks[p] != closer {
					return nil, errorString("definition: unclosed " + t)
				}
				p++
				kind := byte('o')
				if t == "{" {
					kind = 'r'
				}
				n.kids = append(n.kids, &defNode{kind: kind, kids: []*defNode{inner}})
			case "<":
				ch := &defNode{kind: 'c'}
				for {
					alt, err := seq("|>")
					if err != nil {
						return nil, err
					}
					ch.kids = append(ch.kids, alt)
					if p >= len(toks) {
						return nil, errorString("definition: unclosed <")
					}
					p++
					if toks[p-1] == ">" {
						break
					}
				}
				n.kids = append(n.kids, ch)
			case "]", "}", ">", "|":
				return nil, errorString("definition: unexpected " + t)
			default:
				n.kids = append(n.kids, &defNode{kind: 's', seg: t})
			}
		}
		return n, nil
	}
	root, err := seq("")
	if err != nil {
		return nil, err
	}
	if p != len(toks) {
		return nil, errorString("definition: unexpected " + toks[p])
	}
	return root, nil
}

// nfa is a Thompson automaton built from a definition.
type nfa struct {
	eps   [][]int32
	edges [][]nfaEdge
}

type nfaEdge struct {
	sym int16
	to  int32
}

func (a *nfa) state() int32 {
	a.eps = append(a.eps, nil)
	a.edges = append(a.edges, nil)
	return int32(len(a.eps) - 1)
}

// build adds n's fragment starting at from and returns its end state.
func (a *nfa) build(n *defNode, from int32, sym func(string) int16) int32 {
	switch n.kind {
	case 's':
		to := a.state()
		a.edges[from] = append(a.edges[from], nfaEdge{sym(n.seg), to})
		return to
	case 'q':
		cur := from
		for _, k := range n.kids {
			cur = a.build(k, cur, sym)
		}
		return cur
	case 'o':
		end := a.build(n.kids[0], from, sym)
		to := a.state()
		a.eps[from] = append(a.eps[from], to)
		a.eps[end] = append(a.eps[end], to)
		return to
	case 'r':
		loop := a.state()
		a.eps[from] = append(a.eps[from], loop)
		end := a.build(n.kids[0], loop, sym)
		a.eps[end] = append(a.eps[end], loop)
		to := a.state()
		a.eps[end] = append(a.eps[end], to)
		return to
	default: // 'c'
		to := a.state()
		for _, alt := range n.kids {
			s := a.state()
			a.eps[from] = append(a.eps[from], s)
			end := a.build(alt, s, sym)
			a.eps[end] = append(a.eps[end], to)
		}
		return to
	}
}

// compileStructure turns a definition into a deterministic automaton
// (subset construction) and computes its recovery tables.
func compileStructure(id, def string) (*structure, error) {
	root, err := parseDefinition(def)
	if err != nil {
		return nil, errorString(id + ": " + err.Error())
	}
	st := &structure{id: id, syms: map[[3]byte]int16{}}
	sym := func(seg string) int16 {
		k := [3]byte{seg[0], seg[1], seg[2]}
		if s, ok := st.syms[k]; ok {
			return s
		}
		st.syms[k] = int16(len(st.names))
		st.names = append(st.names, seg)
		return int16(len(st.names) - 1)
	}
	a := &nfa{}
	start := a.state()
	final := a.build(root, start, sym)
	nsym := len(st.names)

	// Subset construction over epsilon closures.
	closure := func(set []int32) []int32 {
		seen := map[int32]bool{}
		stack := append([]int32(nil), set...)
		var out []int32
		for len(stack) > 0 {
			s := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[s] {
				continue
			}
			seen[s] = true
			out = append(out, s)
			stack = append(stack, a.eps[s]...)
		}
		slices.Sort(out)
		return out
	}
	key := func(set []int32) string {
		b := make([]byte, 0, 4*len(set))
		for _, s := range set {
			b = append(b, byte(s), byte(s>>8), byte(s>>16), byte(s>>24))
		}
		return string(b)
	}
	index := map[string]int32{}
	var sets [][]int32
	add := func(set []int32) int32 {
		k := key(set)
		if i, ok := index[k]; ok {
			return i
		}
		index[k] = int32(len(sets))
		sets = append(sets, set)
		for _, s := range set {
			if s == final {
				st.accept = append(st.accept, true)
				return int32(len(sets) - 1)
			}
		}
		st.accept = append(st.accept, false)
		return int32(len(sets) - 1)
	}
	add(closure([]int32{start}))
	for d := 0; d < len(sets); d++ {
		if len(sets) > maxStates {
			return nil, errorString(id + ": automaton too large")
		}
		moves := make([][]int32, nsym)
		for _, s := range sets[d] {
			for _, e := range a.edges[s] {
				moves[e.sym] = append(moves[e.sym], e.to)
			}
		}
		for y := 0; y < nsym; y++ {
			to := int32(-1)
			if len(moves[y]) > 0 {
				to = add(closure(moves[y]))
			}
			st.next = append(st.next, to)
		}
	}
	for s := range st.accept {
		st.outFrom = append(st.outFrom, int32(len(st.outSym)))
		for y := 0; y < nsym; y++ {
			if t := st.next[s*nsym+y]; t >= 0 {
				st.outSym = append(st.outSym, int16(y))
				st.outTo = append(st.outTo, t)
			}
		}
	}
	st.outFrom = append(st.outFrom, int32(len(st.outSym)))
	st.computeRecovery()
	return st, nil
}

// computeRecovery fills via and toEnd by breadth-first searches backwards
// from the states that read each segment (or accept).
func (st *structure) computeRecovery() {
	n, nsym := len(st.accept), len(st.names)
	type redge struct {
		from int32
		sym  int16
	}
	rev := make([][]redge, n)
	for s := 0; s < n; s++ {
		for y := 0; y < nsym; y++ {
			if t := st.next[s*nsym+y]; t >= 0 {
				rev[t] = append(rev[t], redge{int32(s), int16(y)})
			}
		}
	}
	bfs := func(out []int16, stride, offset int, source func(s int) bool) {
		queue := make([]int32, 0, n)
		for s := 0; s < n; s++ {
			out[s*stride+offset] = viaNone
			if source(s) {
				out[s*stride+offset] = viaReads
				queue = append(queue, int32(s))
			}
		}
		for len(queue) > 0 {
			t := queue[0]
			queue = queue[1:]
			for _, e := range rev[t] {
				if out[int(e.from)*stride+offset] == viaNone {
					out[int(e.from)*stride+offset] = e.sym
					queue = append(queue, e.from)
				}
			}
		}
	}
	st.via = make([]int16, n*nsym)
	for y := 0; y < nsym; y++ {
		bfs(st.via, nsym, y, func(s int) bool { return st.next[s*nsym+y] >= 0 })
	}
	st.toEnd = make([]int16, n)
	bfs(st.toEnd, 1, 0, func(s int) bool { return st.accept[s] })
}
