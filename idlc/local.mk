# idlc: the IDL compiler (built in a later step).
