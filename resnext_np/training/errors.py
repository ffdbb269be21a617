"""The training command's two ways to fail on purpose, each with its exit status."""


class UsageError(Exception):
    """A mistake in the command line or the files it names: reported in one line, exit code 2."""


class TrainingDiverged(Exception):
    """A loss, gradient, weight or buffer became NaN or infinite: reported with the step and layer, exit code 3."""
