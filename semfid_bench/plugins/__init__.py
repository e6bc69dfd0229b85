"""Built-in plugins, registered through the same plugin manager as third-party ones."""

DEFAULT_PLUGINS: tuple[str, ...] = (
    "semfid_bench.plugins.baselines",
    "semfid_bench.plugins.blind_degradations",
    "semfid_bench.plugins.checkpoint_sr",
    "semfid_bench.plugins.precomputed_sr",
    "semfid_bench.plugins.diffusion_sr",
    "semfid_bench.plugins.learned_metrics",
    "semfid_bench.plugins.pixel_metrics",
    "semfid_bench.plugins.lr_metrics",
    "semfid_bench.plugins.sample_data",
    "semfid_bench.plugins.standard_datasets",
    "semfid_bench.plugins.presets",
    "semfid_bench.plugins.perceptual_metrics",
    "semfid_bench.plugins.semantic_metrics",
    "semfid_bench.plugins.segmentation_metrics",
    "semfid_bench.plugins.captioners",
    "semfid_bench.plugins.set_metrics",
)
