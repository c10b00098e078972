"""Word lists and sentence templates of the generated demo corpus (``demo_corpus.py``).

All written for this project; nothing is copied from real papers. Lists are kept as text,
one entry a line (fields split by ``|``, alternatives by ``;``), so that adding a topic or a
template is adding a line.

A topic line: ``phrase | arXiv category | objects (what the work handles) | settings (where
it is evaluated) | metric | problems (what makes it hard)``. Templates take ``{slots}``
filled by :mod:`paperfeed.sources.demo_corpus`.
"""

from __future__ import annotations


def lines(text: str) -> list[str]:
    """The non-empty lines of ``text``, stripped."""
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


def words(text: str) -> list[str]:
    """The words of ``text`` (split at white space)."""
    return text.split()


TOPICS = lines("""
long-context language models | cs.CL | documents of a million tokens; multi-file codebases; book-length dialogues | needle-in-a-haystack probes; long-document question answering; repository-level completion | exact-match accuracy | attention cost that grows quadratically; position encodings that fail beyond the training length; key-value caches that outgrow accelerator memory
diffusion transformers for image synthesis | cs.CV | high-resolution images; text prompts with many objects; layouts and sketches | class-conditional generation; compositional prompt suites; human preference studies | FID | slow iterative sampling; poor counting and spatial relations; memorised training images
robot manipulation from demonstrations | cs.RO | deformable objects; kitchen tools; cluttered bins | tabletop rearrangement; long-horizon assembly; real-robot pick-and-place | task success rate | the cost of collecting teleoperated demonstrations; contact-rich dynamics; cameras that see only part of the scene
protein structure prediction | q-bio.BM | antibody loops; multi-chain complexes; designed binders | held-out protein families; blind structure assessments; docking benchmarks | lDDT | sparse multiple sequence alignments; conformational flexibility; scarce experimental structures
text-to-video generation | cs.CV | minute-long clips; camera trajectories; human motion | open-domain prompt suites; physics-plausibility probes; user studies | FVD | temporal flicker; objects that change identity between frames; training cost per second of video
autonomous coding agents | cs.SE | pull requests; failing test suites; build configurations | issue-resolution benchmarks; competitive programming; real repositories | resolve rate | long tool-use trajectories; flaky test signals; sparse feedback on partial progress
mixture-of-experts routing | cs.LG | expert layers; token-to-expert assignments; sparse checkpoints | language modelling; multilingual translation; instruction following | perplexity | load imbalance between experts; communication cost across devices; unstable router training
speculative decoding | cs.CL | draft models; token trees; verification passes | chat workloads; code generation; summarisation | tokens per second | low acceptance rates; draft models that drift from the target; memory spent on a second model
3D scene reconstruction | cs.CV | casual phone videos; sparse multi-view photos; large outdoor scenes | novel-view synthesis; indoor scans; driving sequences | PSNR | unknown camera poses; specular surfaces; hours of per-scene optimisation
multilingual speech recognition | eess.AS | low-resource languages; code-switched speech; noisy call-centre audio | read-speech corpora; spontaneous conversations; accented English | word error rate | little transcribed audio; many scripts and orthographies; hallucinated transcripts on silence
reinforcement learning from verifiable rewards | cs.LG | math solutions; unit-tested programs; formal proofs | competition mathematics; program synthesis; theorem proving | pass@1 | sparse binary rewards; reward hacking; the cost of long rollouts
retrieval-augmented generation | cs.IR | enterprise documents; web snapshots; tables and charts | open-domain question answering; multi-hop reasoning; fact verification | answer F1 | retrievers that miss the relevant passage; contexts full of distractors; stale indexes
vision-language reasoning | cs.CV | charts; diagrams; screenshots of user interfaces | visual question answering; chart understanding; GUI grounding | accuracy | hallucinated objects; weak spatial reasoning; images with dense text
mathematical reasoning in small models | cs.AI | word problems; olympiad geometry; symbolic integrals | grade-school arithmetic; competition problems; proof checking | solve rate | brittle multi-step chains; little high-quality training data; errors that compound across steps
weather forecasting with neural operators | physics.ao-ph | global reanalysis fields; precipitation nowcasts; tropical cyclone tracks | medium-range forecasts; extreme-event case studies; ensemble calibration | RMSE | error growth over long rollouts; blurry predictions; the cost of numerical ensembles
privacy-preserving federated training | cs.CR | hospital records; keyboard logs; edge sensor streams | cross-silo healthcare; cross-device text prediction; label-skewed partitions | accuracy under a privacy budget | non-identical client data; gradient leakage; clients that drop out mid-round
tabular foundation models | cs.LG | spreadsheets; relational databases; time-stamped logs | small classification datasets; regression suites; data-cleaning tasks | ROC AUC | heterogeneous column types; tiny training sets; missing values everywhere
embodied navigation | cs.RO | household floor plans; instruction-following agents; quadruped robots | object-goal navigation; vision-and-language navigation; sim-to-real transfer | success weighted by path length | partial observability; long horizons; the gap between simulation and real homes
quantised inference on edge devices | cs.AR | microcontrollers; phone NPUs; 4-bit weights | on-device language modelling; keyword spotting; image classification | latency | outlier activations; memory bandwidth limits; accuracy lost below 8 bits
scientific literature mining | cs.DL | citation graphs; figures and tables in PDFs; chemistry procedures | citation recommendation; claim verification; information extraction | macro F1 | noisy PDF parsing; domain jargon; the volume of new papers each day
graph neural networks for molecules | cs.LG | small organic molecules; crystal structures; reaction graphs | property prediction; retrosynthesis planning; conformer generation | mean absolute error | oversmoothing in deep stacks; three-dimensional symmetry; tiny labelled sets
music generation | cs.SD | symbolic scores; multitrack audio; lyrics | text-to-music prompts; accompaniment generation; listening tests | Frechet audio distance | long-range musical structure; copyright-safe training data; coherent rhythm
medical image segmentation | eess.IV | CT volumes; histopathology slides; retinal scans | multi-organ segmentation; tumour delineation; out-of-hospital validation | Dice score | scarce expert annotations; scanner differences between hospitals; very large images
recommender systems at scale | cs.IR | user sessions; item catalogues with millions of entries; short videos | next-item prediction; cold-start users; online A/B tests | NDCG@10 | popularity bias; feedback loops; serving latency budgets
time-series forecasting | cs.LG | electricity load; traffic sensors; retail demand | long-horizon benchmarks; zero-shot transfer; irregularly sampled series | MASE | distribution shift over time; many unrelated series; missing observations
interpretability of transformers | cs.LG | attention heads; sparse features; residual-stream directions | circuit discovery; feature steering; probing tasks | faithfulness | superposition of features; explanations that do not generalise; the cost of attribution
AI safety evaluations | cs.CY | jailbreak prompts; deceptive behaviour; dangerous-capability probes | red-teaming campaigns; refusal benchmarks; agentic misuse scenarios | attack success rate | evaluations that leak into training data; brittle refusals; judges that disagree with humans
speech synthesis | eess.AS | expressive voices; multilingual speakers; singing | zero-shot voice cloning; long-form narration; listening tests | MOS | unnatural prosody; mispronounced rare words; slow autoregressive decoding
autonomous driving perception | cs.CV | lidar sweeps; surround-view cameras; HD maps | 3D object detection; motion forecasting; closed-loop simulation | mAP | rare events in the long tail; sensor failures; night and rain
efficient fine-tuning | cs.CL | adapter weights; instruction datasets; domain corpora | instruction following; domain adaptation; continual learning | win rate | catastrophic forgetting; memory for optimiser states; many tasks served at once
multi-agent systems | cs.MA | negotiating agents; tool-using teams; simulated societies | cooperative games; collaborative coding; economic simulations | team reward | credit assignment; communication overhead; agents that collude or loop
code language models | cs.SE | function bodies; type annotations; compiler errors | code completion; program repair; test generation | pass@k | contamination of public benchmarks; long-range dependencies between files; rare libraries
document understanding | cs.CV | scanned forms; invoices; multi-page reports | key-value extraction; layout analysis; document question answering | ANLS | diverse layouts; handwriting; low-quality scans
causal inference with machine learning | stat.ML | observational health records; online experiments; policy interventions | treatment-effect estimation; off-policy evaluation; synthetic benchmarks | PEHE | hidden confounders; limited overlap between groups; model misspecification
neural rendering of humans | cs.CV | avatars; loose clothing; hand-object interaction | free-viewpoint video; pose-driven animation; relighting | LPIPS | unseen poses; thin structures such as hair; capture rigs with many cameras
optimisation for deep learning | cs.LG | learning-rate schedules; second-order preconditioners; large batches | language-model pretraining; image classification; hyperparameter transfer | steps to target loss | sensitivity to hyperparameters; loss spikes; memory for optimiser states
climate model emulation | physics.ao-ph | ocean circulation; aerosol forcing; regional downscaling | scenario projections; seasonal prediction; century-long rollouts | bias against reference simulations | conservation laws; rare extremes; drifting long runs
legal and policy text analysis | cs.CL | court decisions; regulations; contracts | judgment prediction; clause retrieval; compliance checking | macro F1 | long documents with cross-references; jurisdiction-specific language; scarce expert labels
earth observation | cs.CV | satellite time series; radar images; field boundaries | crop-type mapping; flood detection; building footprint extraction | IoU | clouds over optical images; differences between sensors; labels from a few regions only
education and tutoring systems | cs.CY | student answers; step-by-step hints; course forums | automatic grading; knowledge tracing; classroom pilots | agreement with teachers | giving away answers; student privacy; feedback that is hard to act on
""")

TECHNIQUES = lines("""
sparse attention
contrastive pretraining
curriculum distillation
latent planning
token merging
preference optimisation
state-space layers
test-time scaling
self-play
synthetic data bootstrapping
low-rank adapters
flow matching
graph message passing
hierarchical memory
uncertainty-aware decoding
energy-based reranking
masked autoencoding
retrieval of past trajectories
learned compression of activations
neural architecture search
equivariant layers
program-guided reasoning
self-consistency voting
active data selection
knowledge distillation from an ensemble
mixture-of-depths computation
recurrent refinement
implicit neural representations
optimal-transport alignment
Bayesian model averaging
""")

OPENERS = lines("""
Progress in {topic} is limited by {problem}.
Despite rapid advances, {topic} remains brittle because of {problem}.
Most recent work on {topic} assumes {problem} away, which rarely works in practice.
Scaling {topic} has so far meant living with {problem}.
{Topic} has become a workhorse for {setting}, yet {problem} still caps what it can do.
A central obstacle for {topic} is {problem}.
Practitioners working on {topic} report that {problem} dominates their engineering effort.
The promise of {topic} is often undercut by {problem}.
Current systems for {topic} handle {object} well only when {problem} can be ignored.
Whether {topic} can move beyond curated benchmarks depends largely on {problem}.
Recent gains in {topic} owe much to scale, while {problem} has received less attention.
Work on {topic} usually evaluates on {setting}, where {problem} is easy to overlook.
""")

GAPS = lines("""
Existing remedies either discard information about {object} or multiply the cost of training.
Prior methods address this with heuristics tuned per dataset, which transfer poorly to {setting}.
Simply adding parameters does not help: we find that larger baselines fail on {object} in the same way.
This gap is most visible on {object}, which standard pipelines treat as an afterthought.
Earlier attempts relied on {tech}, but its cost grows with the size of {object}.
Little is known about how these failures depend on the scale of the model or of {object}.
""")

CONTRIBUTIONS = lines("""
We introduce {name}, a framework that combines {tech} with {tech2}.
We present {name}, which replaces the usual pipeline with {tech}.
This paper proposes {name}: {tech} guided by {tech2}.
To close this gap we develop {name}, a method built around {tech}.
Our approach, {name}, treats {object} as a first-class signal and learns it with {tech}.
We revisit the problem from the angle of {tech} and arrive at {name}, a simple recipe with few moving parts.
We describe {name}, an open system for {topic} that couples {tech} with a small learned controller.
In this work we show that {tech}, when paired with {tech2}, is enough to build a strong model for {topic}; we call the result {name}.
{Name} starts from a pretrained backbone and adds {tech} at the points where errors on {object} originate.
We study {topic} at scale and distil our findings into {name}, a training and inference recipe based on {tech}.
""")

DETAILS = lines("""
The key idea is to reuse intermediate computation on {object} instead of recomputing it at every step.
A lightweight controller decides when to spend more compute on {object} and when to stop early.
Training needs no annotations beyond those already available for {setting} and runs on a single node.
We pair {tech2} with a curriculum that starts from short examples of {object} and grows them.
Each component is ablated in turn; removing {tech2} costs the most.
The method adds fewer than {small} million parameters to a backbone trained for {setting}.
Because {tech} is differentiable end to end, {name} trains with a single objective.
We further derive a bound showing that the error of {name} grows linearly rather than exponentially with the size of {object}.
A data engine mines hard cases of {object} from model failures and feeds them back into training.
{Name} can be added to existing models for {topic} without retraining them from scratch.
We also contribute a cleaned evaluation split for {setting}, removing near-duplicates of training data.
At inference, {name} caches what it has computed for {object} and refreshes only what changed.
An analysis of failure cases shows that the remaining errors concentrate on {object} seen rarely in training.
We train models from {small}00 million to {big} billion parameters to measure how the gains on {object} scale.
Human raters preferred outputs of {name} in {pct}% of side-by-side comparisons on {setting}.
The same recipe transfers to {object} without changing any hyperparameter.
""")

RESULTS = lines("""
Across {setting}, {name} improves {metric} by {gain}% while using {saving}x less compute.
On {setting}, {name} matches models ten times its size.
Experiments on {setting} show gains in {metric} of up to {gain}% over strong baselines.
{Name} sets a new state of the art on {setting}, improving {metric} from {before} to {after}.
With the same budget, {name} reduces {metric} errors on {object} by {gain}% relative to {tech}-only baselines.
On {setting}, {name} closes {pct}% of the gap between open models and the best proprietary system for {topic}.
Gains are largest on {object}, where {metric} rises by {gain} points.
{Name} runs {saving}x faster than the previous best method at equal {metric}.
""")

CLOSINGS = lines("""
Code, weights and the evaluation harness for {setting} are released under a permissive licence.
We discuss limitations, notably on {object}, and outline directions for future work.
Our results suggest that {problem} is less fundamental than commonly assumed.
We hope {name} serves as a strong, simple baseline for future work on {topic}.
All experiments on {setting} fit on {small} GPUs, and we release scripts to reproduce every table.
The findings on {object} hold across three model families, pointing to a general property of {topic}.
""")

TITLES = lines("""
{Name}: {Tech} for {Topic}
{Name}: Scaling {Topic} with {Tech}
Rethinking {Topic} through {Tech}
{Name}: Efficient {Topic} via {Tech}
When Does {Tech} Help {Topic}?
{Name}: Towards Robust {Topic}
{Tech} Is All You Need for {Object}
{Name}: A Simple Baseline for {Topic}
Taming {Problem} in {Topic}
{Name}: Learning {Object} with {Tech} and {Tech2}
On the Limits of {Tech} for {Topic}
{Name}: An Open Recipe for {Topic}
Beyond {Setting}: Evaluating {Topic} in the Wild
{Tech} Meets {Tech2}: {Name} for {Topic}
{Name}: Fast and Faithful {Topic}
Does Scale Solve {Problem}? A Study of {Topic}
""")

FIRST_NAMES = words(
    "Alex Bea Chen Dana Eli Farah Goran Hana Ivo Jia Kofi Lena Mateo Nia Omar Priya Quinn Rui "
    "Sana Tomas Uma Viktor Wen Ximena Yusuf Zoe Amara Bruno Chiara Darius Esra Felix Gita Hugo "
    "Ines Jonas Keiko Luca Maya Nikolai Olu Paula Ravi Selin Theo Valeria Wei Yara"
)
LAST_NAMES = words(
    "Abara Berg Castell Dimitrov Eze Fontaine Gupta Haddad Ito Jansen Kowalczyk Lindqvist "
    "Moreau Nakamura Okafor Petrov Quispe Rossi Sato Tanaka Ueda Varga Weber Xu Yilmaz Zhang "
    "Almeida Banerjee Cohen Delgado Eriksen Fischer Garcia Horvath Iyer Jovanovic Kim Laurent "
    "Mensah Novak Ortiz Park Rahman Silva Torres Vogel Wang Yamada"
)
SYLLABLES = words(
    "lu mi ra to ve qu zen ka so pho nyx ar dex li mo tri ion ze ta flo gri ax or be cor sy pi vo"
)
LABS = ["demo-lab", "open-paper-lab", "sample-research", "example-ai"]
USERS = ["ada", "basil", "cyra", "dev_ops", "elio"]
