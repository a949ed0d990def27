"""latentlab recipes [NAME]: the lecture recipes shipped with latentlab (see latentlab.recipes)."""
from __future__ import annotations

import argparse
import shlex
import textwrap


def register(sub: argparse._SubParsersAction, help: str) -> None:
    p = sub.add_parser("recipes", help=help, description="List the lecture recipes, grouped by lecture, or show one in "
                       "full. `latentlab train --recipe NAME [options]` runs one; options override its settings.")
    p.add_argument("name", nargs="?", metavar="NAME", help="show this recipe: its slide, settings, notes and follow-up commands")
    p.set_defaults(func=run)


def headline(about: str, width: int = 90) -> str:
    """The part of ``about`` before its first colon outside quotes (the slide's name), cut to ``width``."""
    for i, ch in enumerate(about):
        if ch == ":" and about[:i].count('"') % 2 == 0:
            about = about[:i]
            break
    return about if len(about) <= width else about[:width - 3] + "..."


def run(args: argparse.Namespace) -> int:
    from latentlab import recipes
    if args.name:
        r = recipes.load(args.name)
        print(f"{r.name}  ({r.lecture})\n")
        print(textwrap.fill(r.about, 100) + "\n")
        print(f"  latentlab train --recipe {r.name}\n    = latentlab train {r.model} "
              f"{' '.join(shlex.quote(w) for w in recipes.as_options(r.settings))}")
        for line in r.then:
            print(f"    then latentlab {line}")
        if r.report:
            print(f"    then the report ({r.report['kind']}): the lecture's figures beside the run's")
        if r.notes:
            print("\n" + r.notes)
        return 0
    lecture = None
    for r in recipes.all_recipes():
        if r.lecture != lecture:
            lecture = r.lecture
            print(f"\n{lecture}")
        print(f"  {r.name:<16} {r.model:<8} {headline(r.about)}")
    print("\nlatentlab recipes NAME shows one in full; latentlab train --recipe NAME [options] runs it.")
    return 0
