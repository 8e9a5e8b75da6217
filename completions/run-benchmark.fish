# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_run_benchmark_global_optspecs
    string join \n models= batch-sizes= sequence-lengths= generate= training no-inference no-speed no-memory no-multi-process no-cuda only-pretrain-model torchscript framework= use-xla onnxruntime-level= eager-mode save-to-csv inference-time-csv-file= inference-memory-csv-file= train-time-csv-file= train-memory-csv-file= env-info-csv-file= env-print protocol= repeat= warmup= warmup-time= min-runs= max-runs= runs= min-time= precision= max-time= recalibrate dry-run no-fit-check fp16 bf16 dtypes= threads= device= devices= weights= flush-subnormals routing= optimizer= profile profile-trace= input-text= tokenizer= export-json= export-markdown= export-csv= resume= sweep= q/quiet log-print log-filename= timeout= seed= verbose shard= shard-count= db= label= save-baseline= h/help V/version
end

function __fish_run_benchmark_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_run_benchmark_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_run_benchmark_using_subcommand
    set -l cmd (__fish_run_benchmark_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l models -d 'Models to benchmark: Hub ids, short names or config paths, each optionally varied (see MODELS)' -r -a "albert-base-v2\t''
all-MiniLM-L6-v2\t''
bart-base\t''
bart-large\t''
bert-base\t''
bert-base-cased\t''
bert-base-uncased\t''
bert-large-uncased\t''
bge-small-en-v1.5\t''
deberta-v3-base\t''
distilbert-base-uncased\t''
distilgpt2\t''
electra-base-discriminator\t''
flan-t5-small\t''
gemma-2-2b-it\t''
gemma-2b\t''
gemma-3-1b-it\t''
gpt-neo-125m\t''
gpt2\t''
gpt2-large\t''
gpt2-medium\t''
Llama-2-7b-hf\t''
Llama-3.2-1B\t''
Meta-Llama-3-8B\t''
Mistral-7B-v0.1\t''
Mixtral-8x7B-v0.1\t''
ModernBERT-base\t''
opt-125m\t''
phi-2\t''
Phi-3-mini-4k-instruct\t''
Phi-3.5-mini-instruct\t''
pythia-160m\t''
Qwen2.5-0.5B\t''
Qwen2.5-7B\t''
Qwen3-0.6B\t''
Qwen3-30B-A3B\t''
roberta-base\t''
roberta-large\t''
SmolLM2-135M\t''
SmolLM2-360M\t''
t5-base\t''
t5-small\t''
TinyLlama-1.1B-Chat-v1.0\t''
vit-base-patch16-224\t''
whisper-base\t''
whisper-tiny\t''
xlm-roberta-base\t''
albert/albert-base-v2\t''
answerdotai/ModernBERT-base\t''
BAAI/bge-small-en-v1.5\t''
distilbert/distilbert-base-uncased\t''
distilbert/distilgpt2\t''
EleutherAI/gpt-neo-125m\t''
EleutherAI/pythia-160m\t''
facebook/bart-base\t''
facebook/bart-large\t''
facebook/opt-125m\t''
FacebookAI/roberta-base\t''
FacebookAI/roberta-large\t''
FacebookAI/xlm-roberta-base\t''
google-bert/bert-base-cased\t''
google-bert/bert-base-uncased\t''
google-bert/bert-large-uncased\t''
google-t5/t5-base\t''
google-t5/t5-small\t''
google/electra-base-discriminator\t''
google/flan-t5-small\t''
google/gemma-2-2b-it\t''
google/gemma-2b\t''
google/gemma-3-1b-it\t''
google/vit-base-patch16-224\t''
HuggingFaceTB/SmolLM2-135M\t''
HuggingFaceTB/SmolLM2-360M\t''
meta-llama/Llama-2-7b-hf\t''
meta-llama/Llama-3.2-1B\t''
meta-llama/Meta-Llama-3-8B\t''
microsoft/deberta-v3-base\t''
microsoft/phi-2\t''
microsoft/Phi-3-mini-4k-instruct\t''
microsoft/Phi-3.5-mini-instruct\t''
mistralai/Mistral-7B-v0.1\t''
mistralai/Mixtral-8x7B-v0.1\t''
openai-community/gpt2\t''
openai-community/gpt2-large\t''
openai-community/gpt2-medium\t''
openai/whisper-base\t''
openai/whisper-tiny\t''
Qwen/Qwen2.5-0.5B\t''
Qwen/Qwen2.5-7B\t''
Qwen/Qwen3-0.6B\t''
Qwen/Qwen3-30B-A3B\t''
sentence-transformers/all-MiniLM-L6-v2\t''
TinyLlama/TinyLlama-1.1B-Chat-v1.0\t''"
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l batch-sizes -d 'Batch sizes to measure [default: 8]' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l sequence-lengths -d 'Sequence lengths to measure (for vision models such as ViT: image sides in pixels) [default: 8 32 128 512]' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l generate -d 'Also benchmark generation of N new tokens after prompts of each sequence length' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l framework -d 'The frameworks: each is an axis value crossed with the models and sizes, as --dtypes. pytorch: libtorch eager (f32, f16, bf16); torchscript: the model traced (inference only); tensorflow: TensorFlow\'s C API, the model built once as a graph and each call that graph run as one function by its eager runtime (as tf.function), inference and training (f32; f16 and bf16 where its CPU kernels have them); tensorflow-xla: that graph\'s call compiled by XLA, the compile timed apart in the build; tensorflow-eager: the original\'s eager mode, that graph\'s ops executed one at a time by the eager runtime (the same forward, loss and gradient ops, each dispatched from the host); onnxruntime: ONNX Runtime, the model built in memory as an ONNX graph, inference only (f32). TensorFlow and ONNX Runtime cells run in run-benchmark-graph, without libtorch, on bert, roberta, xlm-roberta, distilbert, electra, albert, gpt2, llama, mistral, qwen2 and qwen3 configs; other families, and --generate\'s cells (generation over a KV cache is measured with libtorch only), are N/A [default: pytorch]' -r -f -a "pytorch\t'libtorch, eager (the original\'s PyTorchBenchmark)'
torchscript\t'libtorch, the model traced by TorchScript (inference only)'
tensorflow\t'TensorFlow\'s C API, graph mode (the original\'s TensorFlowBenchmark)'
tensorflow-xla\t'TensorFlow\'s graph compiled by XLA (the original\'s use_xla)'
tensorflow-eager\t'TensorFlow\'s graph executed op by op (the original\'s eager_mode)'
onnxruntime\t'ONNX Runtime (inference only)'"
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l onnxruntime-level -d 'ONNX Runtime\'s graph optimisation level for --framework onnxruntime cells (ORT_DISABLE_ALL ... ORT_ENABLE_ALL), reported in the environment [default: all, as users run it]' -r -f -a "disable\t''
basic\t''
extended\t''
layout\t''
all\t''"
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l inference-time-csv-file -d 'CSV file for inference times [default: inference_time_<unix time>.csv]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l inference-memory-csv-file -d 'CSV file for inference memory [default: inference_memory_<unix time>.csv]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l train-time-csv-file -d 'CSV file for training times [default: train_time_<unix time>.csv]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l train-memory-csv-file -d 'CSV file for training memory [default: train_memory_<unix time>.csv]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l env-info-csv-file -d 'CSV file for the environment information [default: env_info_<unix time>.csv]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l protocol -d 'Timing protocol: adaptive (warm-up, then runs until --min-runs and --min-time; median) or original (--repeat x 10 calls; minimum)' -r -f -a "adaptive\t''
original\t''"
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l repeat -d 'Original protocol: repetitions of 10 calls; the table shows the fastest, per call' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l warmup -d 'Adaptive protocol: untimed warm-up calls before measuring' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l warmup-time -d 'Adaptive protocol: warm-up ends sooner, after at least one call, once its calls have taken this long (a memory cell\'s call in the same child counts)' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l min-runs -d 'Adaptive protocol: fewest timed calls (with --precision, at least 6: the fewest with a 95% interval of the median)' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l max-runs -d 'Adaptive protocol: most timed calls' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l runs -d 'Adaptive protocol: exactly N timed calls (sets --min-runs and --max-runs, ignores --min-time)' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l min-time -d 'Adaptive protocol: least total seconds of timed calls' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l precision -d 'Adaptive protocol: time until the 95% interval of the median is within this much of it (\'off\': stop at --min-runs and --min-time)' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l max-time -d 'Adaptive protocol with --precision: seconds of timed calls after which a cell stops and is flagged imprecise (sooner, from a fifth of it on, when the target is out of reach)' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l dtypes -d 'The models\' dtypes: each is an axis value crossed with the models and sizes (one value: as --fp16/--bf16) [default: f32]' -r -f -a "f32\t'float32, the original\'s default'
f16\t'float16 (the original\'s --fp16)'
bf16\t'bfloat16'"
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l threads -d 'Intra-op threads of libtorch: each count is an axis value crossed with the models and sizes [default: libtorch\'s choice, one per physical core]' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l device -d 'Device: cpu, cuda or cuda:N [default: cuda:0 where available, else cpu]' -r -f -a "cpu\t''
cuda\t''
cuda:0\t''
cuda:1\t''
cuda:2\t''
cuda:3\t''"
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l devices -d 'Several devices at once: one cell per listed device, each cell\'s child pinned to its own (GPUs by CUDA_VISIBLE_DEVICES: cuda:0,cuda:1; CPU core sets by affinity: cpu:0-3,cpu:4-7)' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l weights -d 'The models\' weights: random (the original\'s), or the checkpoint\'s safetensors' -r -f -a "random\t'Random weights at transformers\' initialisation scale (the original\'s behaviour)'
pretrained\t'The checkpoint\'s weights (model.safetensors or a sharded index)'"
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l routing -d 'Mixture-of-experts models (mixtral, qwen3_moe): how tokens are routed to experts' -r -f -a "model\t'The model\'s router (the default)'
balanced\t'A forced even spread with the same top-k'"
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l optimizer -d 'Training: also run an optimizer step after backward (none = forward, loss and backward only)' -r -f -a "none\t'Forward, loss and backward only (the original)'
sgd\t'Plus a plain SGD step (learning rate 1e-4, no momentum): the cheapest weight update'
adamw\t'Plus an AdamW step (learning rate 1e-4): two moment buffers per weight, the usual fine-tuning optimizer'"
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l profile-trace -d 'With --profile: also record libtorch\'s operators for one call per speed cell and write its Chrome trace (chrome://tracing, ui.perfetto.dev) into DIR' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l input-text -d 'Feed the models this text through their tokenizers instead of random token ids' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l tokenizer -d 'The tokenizer.json for --input-text, a file or a folder holding one [default: the model\'s: beside its config, in the Hugging Face cache, or from the Hub]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l export-json -d 'Write every cell\'s settings, raw samples, statistics and N/A reason as JSON (\'-\' = stdout)' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l export-markdown -d 'Write the tables and their notes as Markdown (\'-\' = stdout)' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l export-csv -d 'Write every cell as one tidy CSV file (\'-\' = stdout): one header, one row per cell and statistic (model, batch_size, sequence_length, mode, metric, dtype, threads, framework, new_tokens, statistic, value, unit, reason), beside the original\'s per-section files' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l resume -d 'Skip the cells a previous JSON export measured with the same model, sizes and settings, carrying their results over (N/A cells run again). When FILE is also an export of this sweep, it refuses to start if any of FILE\'s cells is not part of this sweep (they would be lost)' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l sweep -d 'Read models, sizes and options from a TOML sweep file; flags on the command line override it' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l log-filename -d 'The log file (implies --log-print) [default: log_<unix time>.csv, the original\'s name]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l timeout -d 'Seconds a cell may take before its child process is killed and the cell is N/A' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l seed -d 'Seed for the random weights and inputs' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l shard -d 'Run only part K of N of the planned cells (1 <= K <= N: 1/4 .. 4/4), or auto: K and N from a Slurm job array or a Kubernetes Indexed Job; join the parts\' --export-json files with `run-benchmark merge`' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l shard-count -d '--shard auto in a Kubernetes Indexed Job: the number of parts (the Job\'s completions)' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l db -d 'Append every finished cell of this run to a SQLite results database, for history and baselines; FILE left out: $XDG_DATA_HOME/run-benchmark/results.sqlite (~/.local/share on Linux, ~/Library/Application Support on macOS). Off unless given, here or in the environment' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l label -d 'The run\'s name in the database [default: its git commit and branch, when run inside a repository]' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l save-baseline -d 'Mark this run, once finished, as the baseline NAME in the database (implies --db); a name already held moves to it' -r
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l training -d 'Also benchmark training: forward with masked-LM labels plus backward'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l no-inference -d 'Skip the inference benchmark'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l no-speed -d 'Skip speed measurements'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l no-memory -d 'Skip memory measurements'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l no-multi-process -d 'Measure in this process instead of one child process per cell (for debugging)'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l no-cuda -d 'Run on the CPU even where CUDA is available'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l only-pretrain-model -d 'Benchmark the base model rather than the head named by the config\'s architectures[0]'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l torchscript -d 'Trace each model with TorchScript and time the traced module (inference only): --framework torchscript'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l use-xla -d 'TensorFlow with its call compiled by XLA (the original\'s use_xla): --framework tensorflow-xla'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l eager-mode -d 'TensorFlow executing the model op by op (the original\'s eager_mode): --framework tensorflow-eager'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l save-to-csv -d 'Save the results and the environment information to CSV files'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l env-print -d 'Print the environment information (versions, CPU, memory, GPUs)'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l recalibrate -d 'Measure the matmul ceiling again instead of reusing the cached one'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l dry-run -d 'Print every planned cell with its estimated FLOPs, peak memory and time, and the total; run nothing'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l no-fit-check -d 'Run cells whose estimated peak memory exceeds the available memory instead of marking them N/A'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l fp16 -d 'Run the model in half precision (float16), as the original\'s --fp16'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l bf16 -d 'Run the model in bfloat16'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l flush-subnormals -d 'With --weights pretrained: set subnormal weights (nonzero values below the dtype\'s smallest normal number, which CPU kernels can process many times slower) to zero; their share is reported either way. It changes the model\'s outputs by at most those values\' contributions'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l profile -d 'Speed cells also break their call down by part (embeddings, each layer\'s attention projections and kernel, MLP, norms, head, loss, backward, optimizer step): seconds and memory kept per part, and what profiling costs'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -s q -l quiet -d 'No progress bar or progress lines on stderr (errors are still printed)'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l log-print -d 'Also write everything printed on stdout and stderr to a plain-text log file'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -l verbose -d 'Print each child\'s diagnostics'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -s V -l version -d 'Print version'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -f -a "models" -d 'List the embedded model configs and the supported model types'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -f -a "plot" -d 'Draw time or memory against sequence length (or batch size), one line per model and batch size'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -f -a "compare" -d 'Compare two JSON exports cell by cell: ratio NEW/BASELINE and a verdict per cell'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -f -a "merge" -d 'Join the JSON exports of a sharded sweep (--shard K/N) into the whole sweep\'s report'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -f -a "history" -d 'Each cell\'s figure over the runs of the results database (--db), changes beyond the run-to-run spread marked'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -f -a "db" -d 'The results database (--db): its schema, its runs, importing exports and the original\'s CSV files'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -f -a "man" -d 'Print the man page (roff) to stdout: run-benchmark\'s, or plot\'s, compare\'s, merge\'s or history\'s'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -f -a "schema" -d 'Print the JSON Schema of --export-json files (schema 2) to stdout'
complete -c run-benchmark -n "__fish_run_benchmark_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand models" -s h -l help -d 'Print help'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -s o -l output -d 'Output file: .svg or .png [default: the first input\'s name with .png: results.json -> results.png]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -l x -d 'Horizontal axis' -r -f -a "sequence-length\t''
batch-size\t''"
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -l mode -d 'JSON input: which benchmark to draw' -r -f -a "inference\t''
training\t''
generation\t'Generation cells: time per output token (TPOT), or the generation call\'s memory'"
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -l metric -d 'What to draw [default: time; for a CSV file, memory when its name says so]' -r -f -a "time\t'Time per call (the tables\' statistic)'
memory\t'The tables\' memory figure (peak resident memory on the CPU, libtorch included)'
increase\t'What the call added to memory: activations, gradients, optimizer state'"
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -l title -d 'Chart title [default: says what is shown]' -r
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -l size -d 'Width and height in pixels' -r
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -l since -d 'With --history: only runs started on or after this date (YYYY-MM-DD)' -r
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -l db -d 'With --history: the results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -l linear -d 'Linear axes instead of log-log (a y range under a factor of 3 is linear anyway)'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -l profile -d 'Draw the --profile breakdowns of a JSON export: one stacked bar per profiled cell, a segment per kind of part'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -l roofline -d 'Draw the roofline of JSON exports: every speed cell (generation: its decode steps) at its FLOPs per byte and achieved GFLOP/s, under the calibrated bandwidth and matmul ceilings'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -l history -d 'Draw the results database\'s history instead of files: one line per cell over the runs; RESULTS are then the models to draw [default: all]'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand plot" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand compare" -l baseline -d 'Compare against the run saved as baseline NAME in the database (--save-baseline NAME); NEW is then an export, or left out for the database\'s newest run' -r
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand compare" -l db -d 'The results database for --baseline and --last [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand compare" -l threshold -d 'Smallest change, in percent, that counts as a regression or improvement' -r
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand compare" -l noise-floor -d 'Run-to-run noise, in percent, that a speed change\'s whole 95% interval must exceed [default: 10]' -r
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand compare" -l noise-from -d 'Measure the noise floor from two JSON exports of the same code: their largest change' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand compare" -l format -d 'Output: a terminal table, or Markdown for a pull-request comment' -r -f -a "table\t''
markdown\t''"
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand compare" -l last -d 'Compare against the database\'s newest earlier run that measured any of the same cells'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand compare" -s h -l help -d 'Print help'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand merge" -l prefer -d 'Which result wins when two files measured a cell differently' -r -f -a "first\t'The file given first'
last\t'The file given last'"
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand merge" -l export-json -d 'Write the merged sweep as JSON (\'-\' = stdout)' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand merge" -l export-markdown -d 'Write the merged tables as Markdown (\'-\' = stdout)' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand merge" -l save-to-csv -d 'Write the merged results to the original\'s CSV files (<section>_<unix time>.csv)'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand merge" -l env-print -d 'Print the environment information'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand merge" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand history" -l metric -d 'Which figure to follow' -r -f -a "time\t'Time per call (the tables\' statistic)'
memory\t'The tables\' memory figure'"
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand history" -l since -d 'Only runs started on or after this date (YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS in UTC)' -r
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand history" -l db -d 'The results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand history" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and not __fish_seen_subcommand_from schema runs import help" -s h -l help -d 'Print help'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and not __fish_seen_subcommand_from schema runs import help" -f -a "schema" -d 'Print the database\'s schema (SQL), as a new database gets it'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and not __fish_seen_subcommand_from schema runs import help" -f -a "runs" -d 'List the stored runs: id, date, label, commit, cells, baselines'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and not __fish_seen_subcommand_from schema runs import help" -f -a "import" -d 'Import JSON exports (schema 1 and 2; a run each) and the original\'s result CSV files (those given together: one run)'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and not __fish_seen_subcommand_from schema runs import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and __fish_seen_subcommand_from schema" -s h -l help -d 'Print help'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and __fish_seen_subcommand_from runs" -l db -d 'The results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and __fish_seen_subcommand_from runs" -s h -l help -d 'Print help'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and __fish_seen_subcommand_from import" -l label -d 'The runs\' label [default: the file\'s name]' -r
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and __fish_seen_subcommand_from import" -l save-baseline -d 'Mark the (last) imported run as the baseline NAME' -r
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and __fish_seen_subcommand_from import" -l db -d 'The results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]' -r -F
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "schema" -d 'Print the database\'s schema (SQL), as a new database gets it'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "runs" -d 'List the stored runs: id, date, label, commit, cells, baselines'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "import" -d 'Import JSON exports (schema 1 and 2; a run each) and the original\'s result CSV files (those given together: one run)'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand db; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand completions" -s h -l help -d 'Print help'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand man" -s h -l help -d 'Print help'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand schema" -s h -l help -d 'Print help'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and not __fish_seen_subcommand_from models plot compare merge history db completions man schema help" -f -a "models" -d 'List the embedded model configs and the supported model types'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and not __fish_seen_subcommand_from models plot compare merge history db completions man schema help" -f -a "plot" -d 'Draw time or memory against sequence length (or batch size), one line per model and batch size'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and not __fish_seen_subcommand_from models plot compare merge history db completions man schema help" -f -a "compare" -d 'Compare two JSON exports cell by cell: ratio NEW/BASELINE and a verdict per cell'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and not __fish_seen_subcommand_from models plot compare merge history db completions man schema help" -f -a "merge" -d 'Join the JSON exports of a sharded sweep (--shard K/N) into the whole sweep\'s report'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and not __fish_seen_subcommand_from models plot compare merge history db completions man schema help" -f -a "history" -d 'Each cell\'s figure over the runs of the results database (--db), changes beyond the run-to-run spread marked'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and not __fish_seen_subcommand_from models plot compare merge history db completions man schema help" -f -a "db" -d 'The results database (--db): its schema, its runs, importing exports and the original\'s CSV files'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and not __fish_seen_subcommand_from models plot compare merge history db completions man schema help" -f -a "completions" -d 'Print a shell completion script to stdout'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and not __fish_seen_subcommand_from models plot compare merge history db completions man schema help" -f -a "man" -d 'Print the man page (roff) to stdout: run-benchmark\'s, or plot\'s, compare\'s, merge\'s or history\'s'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and not __fish_seen_subcommand_from models plot compare merge history db completions man schema help" -f -a "schema" -d 'Print the JSON Schema of --export-json files (schema 2) to stdout'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and not __fish_seen_subcommand_from models plot compare merge history db completions man schema help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "schema" -d 'Print the database\'s schema (SQL), as a new database gets it'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "runs" -d 'List the stored runs: id, date, label, commit, cells, baselines'
complete -c run-benchmark -n "__fish_run_benchmark_using_subcommand help; and __fish_seen_subcommand_from db" -f -a "import" -d 'Import JSON exports (schema 1 and 2; a run each) and the original\'s result CSV files (those given together: one run)'
