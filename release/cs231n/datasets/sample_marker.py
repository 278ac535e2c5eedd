"""The marker that tells generated sample data from real data.

A marker is text of "key: value" lines (at least dataset, seed, format_version)
up to the first blank line, then free notes for people. A generated folder
holds it as SAMPLE_DATA.txt; a generated .npz holds it as its SAMPLE_DATA entry.
"""


def parse_marker(text):
    """The "key: value" header of a marker's text as a dict of str."""
    fields = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            break
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields
