"""What runs inside the filters' sandbox: the fork server (server.py, the program the app
starts) and the jobs its children compute (grep's matches, sort's order, jq's run).

These modules import only the standard library and each other, never the rest of labapp:
the server runs as a plain program (python -I -S -B jail/server.py) with no site-packages
and no package around it. They say nothing to the learner either:
a failure is a key that labapp/filters/sandbox.py turns into a sentence."""
