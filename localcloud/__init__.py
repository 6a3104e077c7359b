"""localcloud: the embedded runtime that speaks the AWS wire protocols and really does the work on this machine.

core/ knows no AWS service, auth/ decides who signed and what they may do, each other package is one AWS service,
and cloud.py wires them together (`python -m localcloud` starts it).
"""
