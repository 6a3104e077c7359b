"""Debugger's and ProfilerReport's rules, evaluated on a recording with numpy."""
