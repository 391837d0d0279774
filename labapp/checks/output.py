"""Checks on the output the learner saw: exit code, what it shows or does not."""
from __future__ import annotations

import re

from ..i18n import N_, msg
from .base import _INT, _STR, CheckContext, Param, check, pattern_hits


def _all_output(ctx: CheckContext) -> str:
    return "".join(r.output for r in ctx.outputs)


_NOTHING_RAN = N_("nothing has run yet: run the step's commands first")


@check("exit", "output", "value", value=Param(_STR + _INT, True))
def _exit(ctx, args):
    if not ctx.outputs:
        return False, msg(_NOTHING_RAN)
    code = ctx.outputs[-1].exit_code
    want = args["value"]
    if ctx.outputs[-1].timed_out:
        return False, msg("the last command was stopped by its time limit")
    if want == "zero":
        return code == 0, (msg("the last command succeeded (exit 0)") if code == 0
                           else msg("the last command failed (exit {code}); it should succeed", code=code))
    if want == "nonzero":
        return code not in (0, None), (msg("the last command failed as expected (exit {code})", code=code) if code
                                       else msg("the last command succeeded; this step expects it to fail"))
    return code == want, msg("the last command exited {code}; expected {expected}", code=code, expected=want)


@check("output_contains", "output", "value", value=Param(_STR, True))
def _contains(ctx, args):
    if not ctx.outputs:
        return False, msg(_NOTHING_RAN)
    text = args["value"]
    found = text in _all_output(ctx)
    return found, (msg("the output shows '{text}'", text=text) if found
                   else msg("the output does not show '{text}'", text=text))


@check("output_matches", "output", "value", value=Param(_STR, True))
def _matches(ctx, args):
    if not ctx.outputs:
        return False, msg(_NOTHING_RAN)
    hits = pattern_hits(args["value"], re.M, [_all_output(ctx)])
    if hits is None:
        return None, msg("the lab could not match the output just now")
    found = bool(hits)
    return found, (msg("the output matches") if found
                   else msg("the output does not match /{pattern}/", pattern=args["value"]))


@check("output_lacks", "output", "value", value=Param(_STR, True))
def _lacks(ctx, args):
    if not ctx.outputs:
        return False, msg(_NOTHING_RAN)
    text = args["value"]
    found = text in _all_output(ctx)
    return not found, (msg("the output shows '{text}'; it should not", text=text) if found
                       else msg("the output does not show '{text}'", text=text))
