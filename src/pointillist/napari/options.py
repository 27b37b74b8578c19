"""The widgets' options, read from the command line's own parsers: one source of names, defaults and help.

:func:`command_fields` lists the options of a ``pointillist`` command as
:class:`Field` records (flag, kind, default, choices, help, the methods that
read it); the widgets draw one input per field. :func:`parse_fields` turns
what the user typed back into the command's ``argparse.Namespace`` by running
the command's parser, so types, choices and messages are the CLI's. Nothing
here imports Qt or napari.

Examples
--------
>>> fields = {f.dest: f for f in command_fields("reconstruct")}
>>> fields["penalty"].kind, fields["penalty"].choices, fields["penalty"].methods
('choice', ('cel0', 'l1', 'tv'), ('colorme',))
>>> args = parse_fields("reconstruct", {"method": "sofi", "order": "3", "pixel_size": "65"})
>>> args.order, args.pixel_size, args.penalty
(3, 65.0, None)
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

__all__ = ["Field", "command_fields", "command_parser", "parse_fields", "COMMANDS"]

#: the commands with a widget, as ``pointillist`` sub-command paths
COMMANDS = ("reconstruct", "localize", "simulate smlm", "simulate fluct", "simulate matirf")

#: options about files and terminals: the plugin takes its input from a layer and returns layers
_NOT_IN_WIDGETS = {"help", "stack", "outdir", "output", "overwrite", "force_overwrite", "quiet", "format", "no_preview",
                   "workers", "scheduler"}


@dataclass(frozen=True)
class Field:
    """One option of a command, as a widget draws it.

    Attributes
    ----------
    dest : str
        The option's name in the parsed ``Namespace`` (``lambda_ratio``).
    flag : str
        Its command-line spelling (``--lambda-ratio``).
    kind : str
        ``flag`` (a check box), ``choice`` (a list), ``path`` (a file) or ``text`` (numbers and words as typed
        on the command line, parsed by the command's parser).
    default : object
        The parser's default; None means "the library's default", which the help names.
    choices : tuple or None
    help : str
    group : str
        The parser's group title ("optics (lengths in nm)").
    methods : tuple or None
        The ``--method`` values that read this option; None: every method.
    """

    dest: str
    flag: str
    kind: str
    default: object
    choices: tuple | None
    help: str
    group: str
    methods: tuple | None = None

    @property
    def label(self) -> str:
        """The flag without dashes, as a widget label (``lambda-ratio``)."""
        return self.flag.lstrip("-")

    def text(self, value) -> str:
        """A default or value as the user would type it (``"0 300"`` for two numbers, ``""`` for None)."""
        if value is None or value is False:
            return ""
        if isinstance(value, (list, tuple)):
            return " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        return f"{value:g}" if isinstance(value, float) else str(value)


def command_parser(command: str) -> argparse.ArgumentParser:
    """The parser of ``pointillist COMMAND`` (``"reconstruct"``, ``"simulate fluct"``), from the CLI itself."""
    return _command_path(command)[0]


def _command_path(command: str) -> tuple[argparse.ArgumentParser, dict]:
    """The command's parser and what the parsers above it set (``{"command": "simulate", "kind": "fluct"}``)."""
    from ..cli.main import build_parser

    parser, chosen = build_parser(), {}
    for word in command.split():
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or word not in sub.choices:
            raise InputError(f"no pointillist command {command!r}; the widgets know {', '.join(COMMANDS)}")
        chosen[sub.dest] = word
        parser = sub.choices[word]
    return parser, chosen


def _method_table(command: str) -> dict:
    """Which methods read each method-specific option (the CLI's own table)."""
    if command == "reconstruct":
        from ..cli.reconstruct import OPTION_METHODS
    elif command == "localize":
        from ..cli.localize import OPTION_METHODS
    else:
        return {}
    return OPTION_METHODS


def _kind(action: argparse.Action) -> str:
    if action.nargs == 0:
        return "flag"
    if action.choices is not None and action.nargs is None:
        return "choice"
    if action.type is Path:
        return "path"
    return "text"


def command_fields(command: str) -> list[Field]:
    """The options of ``pointillist COMMAND`` that a widget shows, in the parser's order.

    Parameters
    ----------
    command : str
        One of :data:`COMMANDS`.

    Returns
    -------
    list of Field
        Every option except those about files and terminals (input, output folder, ``--overwrite``,
        ``--quiet``, ``--format``, cluster options).
    """
    parser = command_parser(command)
    table = _method_table(command)
    groups = {id(a): g.title for g in parser._action_groups for a in g._group_actions}
    fields = []
    for action in parser._actions:
        if action.dest in _NOT_IN_WIDGETS or not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        flag = max(action.option_strings, key=len)
        choices = tuple(action.choices) if action.choices is not None else None
        fields.append(Field(dest=action.dest, flag=flag, kind=_kind(action), default=action.default, choices=choices,
                            help=action.help or "", group=groups.get(id(action), "options"),
                            methods=table.get(action.dest)))
    return fields


class _Refused(InputError):
    pass


def _refuse(message):
    raise _Refused(message)


def parse_fields(command: str, values: dict, *, source: str = "the layer") -> argparse.Namespace:
    """The ``Namespace`` the command line would make of ``values`` (field ``dest`` -> what the user typed).

    Parameters
    ----------
    command : str
        One of :data:`COMMANDS`.
    values : dict
        Check boxes as bool, choices as one of the choices (or None / ``""`` for the parser's default), paths and
        text as typed (``""`` or None: not given). Fields not in ``values`` take the parser's default.
    source : str
        What stands for the input file in messages (the layer's name).

    Returns
    -------
    argparse.Namespace

    Raises
    ------
    InputError
        With the parser's own message (``argument --lambda-ratio: invalid float value: 'x'``).
    """
    parser, chosen = _command_path(command)
    fields = {f.dest: f for f in command_fields(command)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise InputError(f"pointillist {command} has no option {', '.join(unknown)}")
    argv = []
    for dest, value in values.items():
        field = fields[dest]
        if field.kind == "flag":
            argv += [field.flag] if value else []
        elif value is not None and str(value).strip() != "":
            words = shlex.split(str(value)) if field.kind == "text" else [str(value)]
            argv += [field.flag, *words] if words else []
    positionals = {"stack": [source], "outdir": ["napari"]}
    argv = [w for a in parser._actions if not a.option_strings and a.dest in positionals
            for w in positionals[a.dest]] + argv
    if any(a.dest == "output" for a in parser._actions):
        argv += ["-o", "napari"]
    saved = parser.error
    parser.error = _refuse
    try:
        args = parser.parse_args(argv)
    except _Refused as exc:
        raise InputError(str(exc)) from None
    finally:
        parser.error = saved
    for dest, word in chosen.items():
        setattr(args, dest, word)
    args.quiet = False  # progress goes to the widget's bar
    return args
