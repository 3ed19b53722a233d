"""MLflow "models from code" entry point for :class:`nnscratch.tracking.pyfunc.NNScratchPyfunc`.

MLflow copies this file into the logged model and executes it at load time; ``set_model`` tells it
which object serves predictions. Keeping it apart means importing ``nnscratch.tracking.pyfunc``
has no side effects.
"""

from mlflow.models import set_model

from nnscratch.tracking.pyfunc import NNScratchPyfunc

set_model(NNScratchPyfunc())
