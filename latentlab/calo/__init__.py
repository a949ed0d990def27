"""Fast simulation of calorimeter showers: data formats, a reference simulator, validation, timing.

    from latentlab import calo
    showers = calo.simulate("eplus", 10_000, energy=(1, 100), seed=0)     # Grindhammer-Peters stand-in for Geant4
    calo.write_calogan("showers.h5", showers)                             # CaloGAN layout (energy GeV, cells MeV)
    ref = calo.read_calogan("showers.h5")                                 # or read_showers(path): either layout
    calo.validate(ref, calo.simulate("eplus", 10_000, seed=1), "validation/")   # plots, table, report.html

    ds2 = calo.CaloChallengeGeometry.dataset(2)                           # 45 layers x 16 angles x 9 radii, W/Si
    calo.write_showers("ds2.h5", calo.simulate("eminus", 10_000, geometry=ds2))  # 1 GeV - 1 TeV log-uniform,
                                                                          # CaloChallenge layout (MeV)
    run = calo.train_showers("showers.h5", model="calo-flow")             # or "calo-vae", "calo-wgan", "ds2.h5"
    gen = calo.generate(run.dir, energy=50.0, n=1000)                     # or energy=(1, 100), spectrum="ref.h5"
    calo.demo("calo-demo")                                                # the whole chain on a small sample

Modules: ``geometry`` (CaloGAN and CaloChallenge geometries), ``materials`` (the lead/argon
and tungsten/silicon stacks), ``io`` (Showers and the HDF5 layouts), ``simulate`` (the
parameterised simulator),
``observables``, ``metrics`` (separation power, FPD, KPD, classifier AUC), ``validate`` (and
``plots``, its figures), ``bench_sim`` (ms per shower), ``data`` (showers <-> tensors: the log
transform the models learn in), the shower models ``modelbase`` (what they share: ``CaloModel``),
``flow`` (``calo-flow``, a CaloFlow-style normalizing flow), ``wgan`` (``calo-wgan``) and ``vae``
(``calo-vae``), listed in ``latentlab.models.SHOWER_MODELS``,
and ``generate`` (train_showers, generate, generate_to_file, demo).
``latentlab calo simulate|train MODEL|generate|validate|bench|demo`` map onto ``simulate_to_file``,
``train_showers``, ``generate_to_file``, ``validate_files``, ``bench_table`` and ``demo``. h5py and
matplotlib are imported only when a file is read or written and a figure drawn.
"""
from latentlab.calo.bench_sim import (CALOGAN_PUBLISHED_MS, bench_table, time_callable, time_generator, time_simulator,
                                     timing_table)
from latentlab.calo.geometry import CALOGAN, CaloChallengeGeometry, CaloGANGeometry, CellLayer, LayeredGeometry
from latentlab.calo.io import (Showers, read_calochallenge, read_calogan, read_showers, write_calochallenge,
                               write_calogan, write_showers)
from latentlab.calo.metrics import classifier_auc, fpd, kpd, separation_power
from latentlab.calo.observables import high_level_features, observables
from latentlab.calo.simulate import SimulatorConfig, default_config, simulate, simulate_to_file
from latentlab.calo.validate import validate, validate_files
from latentlab.calo.generate import demo, generate, generate_to_file, train_showers  # noqa: E402  (after io/validate)

__all__ = ["CALOGAN", "CALOGAN_PUBLISHED_MS", "bench_table", "default_config", "demo", "generate", "generate_to_file", "time_generator",
           "train_showers", "CaloChallengeGeometry", "CaloGANGeometry", "CellLayer", "LayeredGeometry",
           "Showers", "SimulatorConfig", "classifier_auc", "fpd", "high_level_features", "kpd", "observables",
           "read_calochallenge", "read_calogan", "read_showers", "separation_power", "simulate", "simulate_to_file",
           "time_callable", "time_simulator", "timing_table", "validate", "validate_files", "write_calochallenge",
           "write_calogan", "write_showers"]
