"""Work orders' pure rules: the workflow (which status may follow which), SLA arithmetic in
business hours, numbering and attachment sniffing. Plain values in, plain values out."""
