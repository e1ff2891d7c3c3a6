"""FHIR R4 export of a consultation: its messages, attachments and calls as one Bundle."""
