"""The `smfcast data` commands that change the registry: `add`, `import`, `source add`,
`series add`, `revert`, and the ones that help: `template`, `history`.

They are thin: each turns its arguments into the inputs of `registry.intake`, which validates the
whole change with the registry's own rules, writes it atomically with its change-log rows, and
raises one located error (printed by `cli.main` as one line, exit code 2) when anything is wrong.
"""

from __future__ import annotations

from pathlib import Path

from smfcast.errors import InvalidInput
from smfcast.outputs.tables import FORMATS, render
from smfcast.registry import changes, intake
from smfcast.registry.intake import NewObservation, NewSeries, NewSource, Origin
from smfcast.registry.location import default_data_dir, writable_data_dir
from smfcast.registry.periods import FREQUENCIES
from smfcast.registry.series import HEADLINE_METRICS, QUALITIES, load_registry
from smfcast.registry.transforms import TRANSFORMS


def _dir(args, write: bool = True) -> Path:
    """The registry a command writes (created from the shipped copy if need be) or only reads."""
    if not write:
        return Path(args.data) if args.data else default_data_dir()
    return writable_data_dir(args.data)


def _who(args) -> str:
    return args.who or f"cli:{intake.default_who()}"


def _add(args) -> int:
    obs = NewObservation(args.series_id, args.period, args.value, args.source, args.quality, args.note or "",
                         Origin("smfcast data add"))
    print(intake.apply(_dir(args), [obs], revise=args.revise, who=_who(args), reason=args.reason or "").summary())
    return 0


def _source_add(args) -> int:
    src = NewSource(args.source_id, args.publisher, args.title, args.quote, args.url or "", Origin("smfcast data source add"))
    print(intake.apply(_dir(args), sources=[src], who=_who(args), reason=args.reason or "").summary())
    return 0


def _bounds(text: str) -> tuple[float, float]:
    try:
        lower, upper = (float(b) for b in text.split(","))
    except ValueError:
        raise InvalidInput(f"--bounds {text!r} must be two numbers, lower,upper (e.g. 0,100000)", "bounds") from None
    return lower, upper


def _series_add(args) -> int:
    s = NewSeries(args.series_id, args.title_en or "", args.title_zh or "", args.unit, args.frequency, args.region,
                  _bounds(args.bounds), args.transform, args.national, args.definition or "", args.headline,
                  Origin("smfcast data series add"), args.forecast)
    print(intake.apply(_dir(args), series=[s], who=_who(args), reason=args.reason or "").summary())
    return 0


def _import(args) -> int:
    from smfcast.registry.template import read_file
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", "file") from None
    observations, sources = read_file(data, path.name)
    out = intake.apply(_dir(args, write=not args.check), observations, sources, revise=args.revise, who=_who(args),
                       reason=args.reason or f"import of {path.name}", check_only=args.check)
    print(f"{path.name}: {len(observations)} row(s), {len(sources)} source row(s); {out.summary()}")
    return 0


def _template(args) -> int:
    from smfcast.registry.template import write_template
    out = Path(args.output)
    if not out.parent.exists():
        raise InvalidInput(f"directory {out.parent} does not exist", "output")
    if out.suffix.lower() != ".xlsx":
        raise InvalidInput(f"{out.name}: the template is a workbook; name it .xlsx", "output")
    reg = load_registry(args.data)
    data = write_template(reg, changes.last_changes(changes.read_log(reg.data_dir)))
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}", "output") from None
    print(f"wrote {out} ({len(data):,} bytes): fill the 'observations' sheet (and 'sources' for new sources), "
          f"then `smfcast data import {out.name}`")
    return 0


def _history(args) -> int:
    entries = changes.read_log(_dir(args, write=False))
    if args.series_id and not any(e["series_id"] == args.series_id for e in entries):
        load_registry(args.data).meta(args.series_id)  # an unknown series is an error; a known one may have no change yet
    rows = changes.history(entries, args.series_id)
    if args.format == "table" and not rows:
        print(f"no change logged{' for ' + args.series_id if args.series_id else ''}: "
              "the data are as compiled (see `smfcast data show`)")
        return 0
    print(render(rows, changes.HISTORY_COLUMNS, args.format))
    return 0


def _revert(args) -> int:
    print(intake.revert(_dir(args), args.change_id, who=_who(args), reason=args.reason or "").summary())
    return 0


def _writer(parser, func, reason_help: str = "why (kept in the change log)") -> None:
    """What every command that changes the registry also takes: why, and who (for the change log)."""
    parser.add_argument("--reason", default=None, help=reason_help)
    parser.add_argument("--who", default=None, help="who makes the change (default: cli:$SMFCAST_USER or the login name)")
    parser.set_defaults(func=func)


def _add_command(data_sub, parser_class, group: str, command_help: str):
    """`smfcast data GROUP add`: the parser of the add command under its group."""
    commands = data_sub.add_parser(group, help=f"add a {group}").add_subparsers(dest=f"{group}_command", required=True,
                                                                               parser_class=parser_class)
    return commands.add_parser("add", help=command_help)


def register(data_sub, parser_class) -> None:
    """Add the registry-changing commands under `smfcast data`."""
    add = data_sub.add_parser("add", help="add (or with --revise, revise) one observation with its source and grade")
    add.add_argument("series_id")
    add.add_argument("period", help="2024 (year-end), 2024Q4 (quarter-end) or 2024-12 (month-end)")
    add.add_argument("value", help="the figure in the series' unit, as published")
    add.add_argument("--source", required=True, help="source id (add a new one first: smfcast data source add)")
    add.add_argument("--quality", required=True, choices=QUALITIES, help="grade of the figure")
    add.add_argument("--note", default=None, help="required for derived rows: the formula")
    add.add_argument("--revise", action="store_true", help="replace a value already recorded (the old one stays in the history)")
    _writer(add, _add)

    sadd = _add_command(data_sub, parser_class, "source", "add a source: who published what, where, in which words")
    sadd.add_argument("source_id", help="a new id: letters, digits, '_' and '-'")
    sadd.add_argument("--publisher", required=True)
    sadd.add_argument("--title", required=True, help="the document or release")
    sadd.add_argument("--url", default=None)
    sadd.add_argument("--quote", required=True, help="the sentence the figure was read from, verbatim")
    _writer(sadd, _source_add)

    radd = _add_command(data_sub, parser_class, "series", "add a series (and optionally make it a headline metric's series)")
    radd.add_argument("series_id", help="a new id: letters, digits, '_' and '-'")
    radd.add_argument("--title-en", required=True)
    radd.add_argument("--title-zh", required=True)
    radd.add_argument("--region", required=True, help="QH for Qinghai, CN for China, QH-Xining for a city ...")
    radd.add_argument("--unit", required=True, help="100m_cny (亿元), trillion_cny (万亿元), percent, or another")
    radd.add_argument("--frequency", required=True, help=f"one of {', '.join(FREQUENCIES)}")
    radd.add_argument("--bounds", required=True, help="lower,upper: the values the series can take, e.g. 0,100")
    radd.add_argument("--transform", required=True, help=f"one of {', '.join(TRANSFORMS)} (log for balances, logit for shares)")
    radd.add_argument("--national", default=None, help="the national counterpart a short provincial series leans on")
    radd.add_argument("--definition", default=None)
    radd.add_argument("--headline", default=None, choices=HEADLINE_METRICS, help="publish this headline metric from the new series")
    radd.add_argument("--forecast", action="store_true",
                      help="every run forecasts the series (served at GET /v1/forecasts?series=ID; default: not forecast)")
    _writer(radd, _series_add)

    imp = data_sub.add_parser("import", help="add many observations (and their new sources) from a .csv or .xlsx file")
    imp.add_argument("file", help="CSV with the columns of observations.csv (and optionally publisher,title,url,quote), "
                                  "or the workbook of `smfcast data template`")
    imp.add_argument("--revise", action="store_true", help="let rows replace values already recorded")
    imp.add_argument("--check", action="store_true", help="validate only; write nothing")
    _writer(imp, _import, "why (default: the file's name)")

    tpl = data_sub.add_parser("template", help="write the XLSX template for `smfcast data import`")
    tpl.add_argument("-o", "--output", required=True, help="the .xlsx file to write")
    tpl.set_defaults(func=_template)

    hist = data_sub.add_parser("history", help="the change log, newest first (for one series, or all)")
    hist.add_argument("series_id", nargs="?", default=None)
    hist.add_argument("--format", choices=FORMATS, default="table")
    hist.set_defaults(func=_history)

    rev = data_sub.add_parser("revert", help="undo a change (as a new change, logged); the old text comes back byte for byte")
    rev.add_argument("change_id")
    _writer(rev, _revert)
