"""Fairness corpus, gan part: see tests/fairness/__init__.py.

Correct code written the ways students write it against the original starter
file (labels made with ``torch.ones(N).type(dtype)``, ``.sum() / N``, functional
losses, ``nn.Flatten``, layers gathered in a list, positional Adam arguments...),
and degenerate code (constant noise, constant losses, an optimizer that never
moves the weights) that must earn nothing.
"""
from fairness.alternative import Alternative, Degenerate

G = "cs231n/gan_pytorch.py:"

# Top-level names the official starter cs231n/gan_pytorch.py defines (2021-2024).
# Everything else the notebook needs lives in the notebook (show_images, as in the
# original) or in provided modules.
CANONICAL_NAMES = {
    "cs231n/gan_pytorch.py": {
        "NOISE_DIM", "dtype", "sample_noise", "discriminator", "generator", "bce_loss",
        "discriminator_loss", "generator_loss", "get_optimizer", "ls_discriminator_loss",
        "ls_generator_loss", "build_dc_classifier", "build_dc_generator", "run_a_gan",
        "ChunkSampler", "Flatten", "Unflatten", "initialize_weights", "preprocess_img",
        "deprocess_img", "rel_error", "count_params",
    },
}

ALTERNATIVES = [
    # ------------------------------------------------------------------ sample_noise
    Alternative("gan-noise-uniform_", G + "sample_noise", '''
        def sample_noise(batch_size, dim, seed=None):
            if seed is not None:
                torch.manual_seed(seed)
            noise = torch.empty(batch_size, dim)
            noise.uniform_(-1, 1)
            return noise
        ''', "in-place uniform_ on an empty tensor"),
    Alternative("gan-noise-shift-then-scale-dtype", G + "sample_noise", '''
        def sample_noise(batch_size, dim, seed=None):
            if seed is not None:
                torch.manual_seed(seed)
            u = torch.rand((batch_size, dim))
            return ((u - 0.5) * 2).type(dtype)
        ''', "(u - 0.5) * 2 with a tuple size, cast with the module's dtype"),
    Alternative("gan-noise-float64", G + "sample_noise", '''
        def sample_noise(batch_size, dim, seed=None):
            if seed is not None:
                torch.manual_seed(seed)
            return torch.rand(batch_size, dim, dtype=torch.float64) * 2 - 1
        ''', "float64 noise (run_a_gan casts it to the generator's dtype)"),

    # ------------------------------------------------------------------ networks
    Alternative("gan-disc-nn-flatten-keywords", G + "discriminator", '''
        def discriminator(seed=None):
            if seed is not None:
                torch.manual_seed(seed)
            model = nn.Sequential(
                nn.Flatten(),
                nn.Linear(in_features=784, out_features=256, bias=True),
                nn.LeakyReLU(negative_slope=0.01),
                nn.Linear(in_features=256, out_features=256),
                nn.LeakyReLU(),
                nn.Linear(in_features=256, out_features=1),
            )
            return model
        ''', "nn.Flatten, keyword arguments, LeakyReLU's default slope"),
    Alternative("gan-disc-layer-list", G + "discriminator", '''
        def discriminator(seed=None):
            if seed is not None:
                torch.manual_seed(seed)
            layers = [Flatten()]
            for fan_in, fan_out in [(784, 256), (256, 256)]:
                layers += [nn.Linear(fan_in, fan_out), nn.LeakyReLU(0.01)]
            layers.append(nn.Linear(256, 1))
            return nn.Sequential(*layers)
        ''', "layers gathered in a list and unpacked into nn.Sequential"),
    Alternative("gan-gen-ordereddict", G + "generator", '''
        def generator(noise_dim=NOISE_DIM, seed=None):
            if seed is not None:
                torch.manual_seed(seed)
            return nn.Sequential(OrderedDict([
                ("fc1", nn.Linear(noise_dim, 1024)), ("relu1", nn.ReLU(inplace=True)),
                ("fc2", nn.Linear(1024, 1024)), ("relu2", nn.ReLU(inplace=True)),
                ("fc3", nn.Linear(1024, 784)), ("out", nn.Tanh()),
            ]))
        ''', "named layers in an OrderedDict, in-place ReLU", extra_imports=("from collections import OrderedDict",)),
    Alternative("gan-dc-classifier-no-unflatten", G + "build_dc_classifier", '''
        def build_dc_classifier(batch_size):
            return nn.Sequential(
                nn.Conv2d(1, 32, (5, 5), 1),
                nn.LeakyReLU(0.01),
                nn.MaxPool2d(kernel_size=2),
                nn.Conv2d(32, 64, (5, 5), 1),
                nn.LeakyReLU(0.01),
                nn.MaxPool2d((2, 2), 2),
                nn.Flatten(),
                nn.Linear(1024, 1024),
                nn.LeakyReLU(0.01),
                nn.Linear(1024, 1),
            )
        ''', "no Unflatten (the loader's images are already (N, 1, 28, 28)), tuple kernel sizes, nn.Flatten"),
    Alternative("gan-dc-generator-image-output", G + "build_dc_generator", '''
        def build_dc_generator(noise_dim=NOISE_DIM):
            return nn.Sequential(
                nn.Linear(noise_dim, 1024), nn.ReLU(), nn.BatchNorm1d(1024),
                nn.Linear(1024, 6272), nn.ReLU(), nn.BatchNorm1d(6272),
                nn.Unflatten(1, (128, 7, 7)),
                nn.ConvTranspose2d(128, 64, (4, 4), 2, 1), nn.ReLU(), nn.BatchNorm2d(64),
                nn.ConvTranspose2d(64, 1, (4, 4), 2, 1), nn.Tanh(),
            )
        ''', "nn.Unflatten, positional conv arguments, images left as (N, 1, 28, 28)"),
    Alternative("gan-dc-generator-appended", G + "build_dc_generator", '''
        def build_dc_generator(noise_dim=NOISE_DIM):
            layers = []
            layers.append(nn.Linear(noise_dim, 1024))
            layers.append(nn.ReLU())
            layers.append(nn.BatchNorm1d(num_features=1024))
            layers.append(nn.Linear(1024, 7 * 7 * 128))
            layers.append(nn.ReLU())
            layers.append(nn.BatchNorm1d(num_features=7 * 7 * 128))
            layers.append(Unflatten(C=128, H=7, W=7))
            layers.append(nn.ConvTranspose2d(in_channels=128, out_channels=64, kernel_size=4, stride=2, padding=1))
            layers.append(nn.ReLU())
            layers.append(nn.BatchNorm2d(num_features=64))
            layers.append(nn.ConvTranspose2d(in_channels=64, out_channels=1, kernel_size=4, stride=2, padding=1))
            layers.append(nn.Tanh())
            layers.append(Flatten())
            return nn.Sequential(*layers)
        ''', "layers appended one by one, keyword arguments"),

    # ------------------------------------------------------------------ GAN losses
    Alternative("gan-dloss-ones-type-dtype", G + "discriminator_loss", '''
        def discriminator_loss(logits_real, logits_fake):
            N = logits_real.size(0)
            true_labels = torch.ones(N).type(dtype)
            false_labels = torch.zeros(logits_fake.size(0)).type(dtype)
            loss = bce_loss(logits_real, true_labels) + bce_loss(logits_fake, false_labels)
            return loss
        ''', "labels made with torch.ones(N).type(dtype), as the original notebook suggests"),
    Alternative("gan-dloss-functional", G + "discriminator_loss", '''
        def discriminator_loss(logits_real, logits_fake):
            real_part = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
            fake_part = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
            return real_part + fake_part
        ''', "torch.nn.functional's BCE with logits instead of bce_loss",
        extra_imports=("import torch.nn.functional as F",)),
    Alternative("gan-dloss-naive-log-sigmoid", G + "discriminator_loss", '''
        def discriminator_loss(logits_real, logits_fake):
            d_real = torch.sigmoid(logits_real)
            d_fake = torch.sigmoid(logits_fake)
            return -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
        ''', "the textbook formula with an explicit sigmoid (exact for moderate logits)"),
    Alternative("gan-gloss-sum-over-n", G + "generator_loss", '''
        def generator_loss(logits_fake):
            criterion = nn.BCEWithLogitsLoss(reduction="sum")
            return criterion(logits_fake, torch.ones_like(logits_fake)) / logits_fake.shape[0]
        ''', "nn.BCEWithLogitsLoss with reduction='sum', divided by N"),
    Alternative("gan-gloss-float64-result", G + "generator_loss", '''
        def generator_loss(logits_fake):
            labels = torch.ones(logits_fake.shape[0], dtype=torch.float64)
            return bce_loss(logits_fake.double(), labels)
        ''', "computed and returned in float64 from float32 scores"),

    # ------------------------------------------------------------------ least squares
    Alternative("gan-lsd-mean-halved", G + "ls_discriminator_loss", '''
        def ls_discriminator_loss(scores_real, scores_fake):
            return torch.mean((scores_real - 1) ** 2) / 2 + torch.mean(scores_fake ** 2) / 2
        ''', "torch.mean(...) / 2"),
    Alternative("gan-lsd-mse", G + "ls_discriminator_loss", '''
        def ls_discriminator_loss(scores_real, scores_fake):
            N = scores_real.shape[0]
            real_term = F.mse_loss(scores_real, torch.ones(N).type(dtype))
            fake_term = F.mse_loss(scores_fake, torch.zeros(N).type(dtype))
            return 0.5 * real_term + 0.5 * fake_term
        ''', "0.5 * F.mse_loss with labels of the module's dtype",
        extra_imports=("import torch.nn.functional as F",)),
    Alternative("gan-lsg-sum-over-2n", G + "ls_generator_loss", '''
        def ls_generator_loss(scores_fake):
            N = scores_fake.shape[0]
            return torch.sum(torch.square(scores_fake - 1)) / (2 * N)
        ''', "torch.square and a sum divided by 2N"),
    Alternative("gan-lsg-mse", G + "ls_generator_loss", '''
        def ls_generator_loss(scores_fake):
            return 0.5 * nn.MSELoss()(scores_fake, torch.ones_like(scores_fake))
        ''', "0.5 * nn.MSELoss()"),

    # ------------------------------------------------------------------ optimizer
    Alternative("gan-adam-positional", G + "get_optimizer", '''
        def get_optimizer(model):
            return torch.optim.Adam(model.parameters(), 1e-3, (0.5, 0.999))
        ''', "positional lr and betas"),
    Alternative("gan-adam-default-lr-list-betas", G + "get_optimizer", '''
        def get_optimizer(model):
            optimizer = optim.Adam(params=model.parameters(), betas=[0.5, 0.999])
            return optimizer
        ''', "Adam's default learning rate (1e-3) and betas given as a list"),
]

DEGENERATE = [
    Degenerate("gan-noise-zeros", G + "sample_noise", '''
        def sample_noise(batch_size, dim, seed=None):
            return torch.zeros(batch_size, dim)
        ''', zero=("sample_noise",), what="all-zero noise of the right shape"),
    Degenerate("gan-noise-constant", G + "sample_noise", '''
        def sample_noise(batch_size, dim, seed=None):
            return torch.full((batch_size, dim), 0.5)
        ''', zero=("sample_noise",), what="constant noise of the right shape"),
    Degenerate("gan-generator-zero-images", G + "generator", '''
        def generator(noise_dim=NOISE_DIM, seed=None):
            if seed is not None:
                torch.manual_seed(seed)
            return nn.Sequential(nn.Linear(noise_dim, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                                 nn.Linear(1024, 784), nn.Tanh(), nn.Dropout(p=1.0))
        ''', zero=("gan_networks",), what="right parameter counts, but every image is all zeros"),
    Degenerate("gan-dloss-constant", G + "discriminator_loss", '''
        def discriminator_loss(logits_real, logits_fake):
            return torch.tensor(0.0)
        ''', zero=("gan_losses",), what="a constant zero loss"),
    Degenerate("gan-gloss-zero-times", G + "generator_loss", '''
        def generator_loss(logits_fake):
            return 0 * logits_fake.sum()
        ''', zero=("gan_losses",), what="a zero loss with zero gradients"),
    Degenerate("gan-lsd-nan", G + "ls_discriminator_loss", '''
        def ls_discriminator_loss(scores_real, scores_fake):
            return torch.tensor(float("nan"))
        ''', zero=("ls_losses",), what="a NaN loss"),
    Degenerate("gan-lsg-zero", G + "ls_generator_loss", '''
        def ls_generator_loss(scores_fake):
            return (scores_fake * 0).mean()
        ''', zero=("ls_losses",), what="a zero loss"),
    Degenerate("gan-adam-lr-zero", G + "get_optimizer", '''
        def get_optimizer(model):
            return optim.Adam(model.parameters(), lr=0, betas=(0.5, 0.999))
        ''', zero=("get_optimizer",), what="Adam with the right betas that never moves the weights"),
    Degenerate("gan-adam-name-only", G + "get_optimizer", '''
        def get_optimizer(model):
            class Adam(torch.optim.Adam):
                def step(self, closure=None):
                    return None
            return Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999))
        ''', zero=("get_optimizer",), what="an Adam subclass with the right settings whose step does nothing"),
]
