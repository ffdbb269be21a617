"""Training recipes: every choice that is not the model, in one named, printable record.

``paper``: the ResNeXt paper's CIFAR recipe (section 5.3), scaled to the planned number of steps.
SGD with Nesterov momentum 0.9, learning rate 0.1 per 128 images, weight decay 5e-4 on every
parameter, the learning rate divided by 10 at 50% and 75% of training.

``cpu``: the same model and optimiser with the tricks that the fast-CIFAR literature measured to pay
per unit of compute (Smith & Topin 2017; Page 2018; He et al. 2019 "Bag of tricks"; Jordan 2024),
each kept only if a held-out measurement here said it pays (docs/cpu_recipe.md has the table):

* batch 32 with a peak learning rate of 0.2: four times the updates of batch 128 per epoch, at
  about 80% of its images per second on 2 cores; a short run is short of updates, not of images;
* one-cycle schedule: a linear warm-up over the first 20% of the steps, then a linear decay to
  ~zero (``minigrad.optim.lr_scheduler.OneCycleLR``). In a short run the decay is where the
  accuracy is won; a schedule that ends at a high rate wastes the budget;
* label smoothing 0.1 (``F.cross_entropy(..., label_smoothing=0.1)``);
* no weight decay on BatchNorm weights and biases, nor on any bias (they set scales and offsets,
  not the complexity the decay is there to limit);
* flip test-time augmentation: the prediction averages the softmax of the image and its mirror;
* a whitening stem (``minigrad.nn.PatchWhitening2d``; Coates & Ng 2011, airbench): the first
  convolution's filters are the whitening directions of the 3x3 patches of the first 5,000
  training images, fixed before training and never trained. The network starts from a
  well-conditioned view of the pixels instead of learning one from noisy gradients;
* a late weight average (``minigrad.optim.WeightAverage``): the run reports the plain average of
  the weights after each of its last 25% of steps (BatchNorm's running statistics averaged too).
  Late in a one-cycle decay the weights wander around one valley; their average sits nearer its
  bottom than the last of them;
* lower-resolution early epochs (progressive resizing): the first half of the epochs trains on
  random 24x24 windows of the photos, a step costing 0.6-0.7 of a 32x32 one (a step costs about
  in proportion to pixels: 0.56), so a budget buys more epochs. At equal epochs they lost nothing on the
  tune split; the model's global average pool takes either size, and evaluation stays at 32x32.

Measured and left out (available as options): an exponential moving average of the weights
(``--ema-decay``; it averaged over the whole decay, so it mixed in the early, worse weights) and starting
each block's last BatchNorm at zero (``--zero-init-residual``), cutout (``--cutout``,
``minigrad.data.Cutout``: it lost 0.03 at the 5-minute length and gained nothing at twice that),
and mixup (``--mixup``, ``resnext_np/training/mixup.py``: +0.02 where a run fits every one of a few
thousand photos, nothing at the 5-minute length, and a CIFAR-10 run in these budgets sees its
50,000 photos a few times, far from fitting them).

A recipe's values are the defaults of the training command's options; any option given on the
command line overrides its value.
"""

from dataclasses import asdict, dataclass

import minigrad as mg


@dataclass(frozen=True)
class Recipe:
    name: str
    batch_size: int
    lr: float                 # peak learning rate at ``batch_size`` (scaled linearly for other sizes)
    momentum: float
    nesterov: bool
    weight_decay: float
    decay_norms_and_biases: bool
    schedule: str             # "multistep" (÷10 at 50% and 75%), "cosine", or "onecycle"
    warmup: float             # fraction of the steps spent warming up (onecycle only)
    label_smoothing: float
    ema_decay: float          # 0: no moving average of the weights
    average_last: float       # evaluate the plain average of the weights of this last fraction of the steps (0: none)
    flip_tta: bool
    zero_init_residual: bool  # start every block's last BatchNorm at weight 0: each block begins as the identity
    whitening_stem: bool      # the first conv's filters whiten 3x3 patches of the training images, never trained
    cutout: int               # side of the square blanked in every training image (minigrad.data.Cutout); 0: none
    low_res_epochs: float     # this first fraction of the epochs trains on low_res_size crops (0: none)
    low_res_size: int         # side of those crops, cut from the unpadded image
    mixup: float              # alpha of mixup's Beta(alpha, alpha) blend weight (resnext_np/training/mixup.py); 0: none

    def describe(self):
        """One line for ``--help`` and the plan: every value of the recipe."""
        values = asdict(self)
        return ", ".join(f"{key.replace('_', '-')} {value}" for key, value in values.items() if key != "name")


RECIPES = {
    "paper": Recipe("paper", batch_size=128, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4,
                    decay_norms_and_biases=True, schedule="multistep", warmup=0.0, label_smoothing=0.0,
                    ema_decay=0.0, average_last=0.0, flip_tta=False, zero_init_residual=False, whitening_stem=False,
                    cutout=0, low_res_epochs=0.0, low_res_size=24, mixup=0.0),
    "cpu": Recipe("cpu", batch_size=32, lr=0.2, momentum=0.9, nesterov=True, weight_decay=5e-4,
                  decay_norms_and_biases=False, schedule="onecycle", warmup=0.2, label_smoothing=0.1,
                  ema_decay=0.0, average_last=0.25, flip_tta=True, zero_init_residual=False, whitening_stem=True,
                  cutout=0, low_res_epochs=0.5, low_res_size=24, mixup=0.0),
}
DEFAULT_RECIPE = "cpu"


# airbench's choice: 5,000 images give 4.5 million 3x3 patches, plenty for a 27x27 covariance.
WHITENING_IMAGES = 5000


def initialise(model, options, training_images=None):
    """The recipe's changes to the model's initialisation: the whitening stem's filters, from the
    first ``WHITENING_IMAGES`` of ``training_images`` (normalised as the network sees them, not
    augmented); and zero-init residual (Goyal et al. 2017: zero the last BN of each residual
    block, so that at the start each block passes its input straight through)."""
    from resnext_np.block import ResNeXtBottleneck

    if options.whitening_stem:
        if training_images is None:
            raise ValueError("the whitening stem is fitted to the training images: pass training_images")
        model.conv_1_3x3.fit(training_images[:WHITENING_IMAGES])
    if options.zero_init_residual:
        with mg.no_grad():
            for module in model.modules():
                if isinstance(module, ResNeXtBottleneck):
                    module.bn_expand.weight.zero_()  # versioned, as every in-place write to a parameter
    return model


def parameter_groups(model, weight_decay, decay_norms_and_biases):
    """Optimizer groups: ``[{"params": decayed, ...}, {"params": the rest, "weight_decay": 0}]``.

    Without decay: every parameter with fewer than 2 dimensions, i.e. biases and BatchNorm's
    weight and bias; conv and linear weights keep it.
    """
    if decay_norms_and_biases:
        return [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    decayed, exempt = [], []
    for parameter in model.parameters():
        (decayed if parameter.ndim >= 2 else exempt).append(parameter)
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": exempt, "weight_decay": 0.0}]


def make_optimizer(options, model, total_steps):
    """SGD over ``parameter_groups`` and a per-step learning-rate schedule for ``total_steps`` steps.

    ``options`` has the recipe's fields (``lr`` is the peak rate for this run's batch size).
    """
    groups = parameter_groups(model, options.weight_decay, options.decay_norms_and_biases)
    optimizer = mg.optim.SGD(groups, lr=options.lr, momentum=options.momentum, nesterov=options.nesterov)
    if options.schedule == "onecycle":
        scheduler = mg.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=options.lr, total_steps=total_steps,
                                                     pct_start=options.warmup, anneal_strategy="linear")
    elif options.schedule == "cosine":
        scheduler = mg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    else:
        milestones = sorted({max(1, round(total_steps * 0.5)), max(1, round(total_steps * 0.75))})
        scheduler = mg.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
    return optimizer, scheduler
