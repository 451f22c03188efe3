"""HL7 v2 scheduling feeds (SIU): received over MLLP (mllp.py) or read from batch files
(files.py), parsed with python-hl7 (parse.py) into plain records for mappings/hl7v2_siu.yaml."""
