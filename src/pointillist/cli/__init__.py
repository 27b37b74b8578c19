"""The ``pointillist`` command line.

Each sub-command lives in its own module with two functions:

``register(sub)``
    Adds the sub-command's parser to ``sub``, what
    ``argparse.ArgumentParser.add_subparsers`` returned.
``run(args) -> int``
    Runs it with the parsed options ``args`` (``argparse.Namespace``) and
    returns the exit code, 0 on success. Bad input raises
    :class:`~pointillist.errors.InputError`, which
    :func:`pointillist.cli.main.main` prints as one line with exit code 2.

Options that belong to one method default to None, so that an option given
for another method is refused and the library's default applies when it is
not given (the CLI never repeats a library default).
"""
