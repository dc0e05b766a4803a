"""The paper's reference methods (Table 2) other than M-net and HP-net.

- ELF-mm (`baselines.mm.run_elf_mm`): ELF colour/texture stripe histograms (`baselines.elf`) + one
  class-balanced linear SVM per attribute (`baselines.svm`);
- FC6-mm / FC7-mm (`baselines.mm.run_fc_mm`): fc6 / fc7 activations of ImageNet AlexNet/CaffeNet weights
  from a local file (`baselines.fc_features`, `baselines.alexnet`) + the same SVMs;
- ACN (`baselines.acn.run_acn`): an AlexNet trunk with one 2-way softmax head and loss per attribute;
- DeepMar (`baselines.deepmar.run_deepmar`): a torchvision backbone with the weighted sigmoid cross-entropy.

Each comes with ``tiny`` / ``cpu`` / ``paper`` presets (`ELF_MM_PRESETS`, `FC_MM_PRESETS`,
`ACN_PRESETS`, `DEEPMAR_PRESETS`) and returns a `BaselineResult` with val and test probabilities.
Checkpoints and SVM hyper-parameters are always chosen on the val split.
"""

from baselines.common import BaselineResult, apply_overrides

__all__ = ["BaselineResult", "apply_overrides"]
