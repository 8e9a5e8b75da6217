
use builtin;
use str;

set edit:completion:arg-completer[run-benchmark] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'run-benchmark'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'run-benchmark'= {
            cand --models 'Models to benchmark: Hub ids, short names or config paths, each optionally varied (see MODELS)'
            cand --batch-sizes 'Batch sizes to measure [default: 8]'
            cand --sequence-lengths 'Sequence lengths to measure (for vision models such as ViT: image sides in pixels) [default: 8 32 128 512]'
            cand --generate 'Also benchmark generation of N new tokens after prompts of each sequence length'
            cand --framework 'The frameworks: each is an axis value crossed with the models and sizes, as --dtypes. pytorch: libtorch eager (f32, f16, bf16); torchscript: the model traced (inference only); tensorflow: TensorFlow''s C API, the model built once as a graph and each call that graph run as one function by its eager runtime (as tf.function), inference and training (f32; f16 and bf16 where its CPU kernels have them); tensorflow-xla: that graph''s call compiled by XLA, the compile timed apart in the build; tensorflow-eager: the original''s eager mode, that graph''s ops executed one at a time by the eager runtime (the same forward, loss and gradient ops, each dispatched from the host); onnxruntime: ONNX Runtime, the model built in memory as an ONNX graph, inference only (f32). TensorFlow and ONNX Runtime cells run in run-benchmark-graph, without libtorch, on bert, roberta, xlm-roberta, distilbert, electra, albert, gpt2, llama, mistral, qwen2 and qwen3 configs; other families, and --generate''s cells (generation over a KV cache is measured with libtorch only), are N/A [default: pytorch]'
            cand --onnxruntime-level 'ONNX Runtime''s graph optimisation level for --framework onnxruntime cells (ORT_DISABLE_ALL ... ORT_ENABLE_ALL), reported in the environment [default: all, as users run it]'
            cand --inference-time-csv-file 'CSV file for inference times [default: inference_time_<unix time>.csv]'
            cand --inference-memory-csv-file 'CSV file for inference memory [default: inference_memory_<unix time>.csv]'
            cand --train-time-csv-file 'CSV file for training times [default: train_time_<unix time>.csv]'
            cand --train-memory-csv-file 'CSV file for training memory [default: train_memory_<unix time>.csv]'
            cand --env-info-csv-file 'CSV file for the environment information [default: env_info_<unix time>.csv]'
            cand --protocol 'Timing protocol: adaptive (warm-up, then runs until --min-runs and --min-time; median) or original (--repeat x 10 calls; minimum)'
            cand --repeat 'Original protocol: repetitions of 10 calls; the table shows the fastest, per call'
            cand --warmup 'Adaptive protocol: untimed warm-up calls before measuring'
            cand --warmup-time 'Adaptive protocol: warm-up ends sooner, after at least one call, once its calls have taken this long (a memory cell''s call in the same child counts)'
            cand --min-runs 'Adaptive protocol: fewest timed calls (with --precision, at least 6: the fewest with a 95% interval of the median)'
            cand --max-runs 'Adaptive protocol: most timed calls'
            cand --runs 'Adaptive protocol: exactly N timed calls (sets --min-runs and --max-runs, ignores --min-time)'
            cand --min-time 'Adaptive protocol: least total seconds of timed calls'
            cand --precision 'Adaptive protocol: time until the 95% interval of the median is within this much of it (''off'': stop at --min-runs and --min-time)'
            cand --max-time 'Adaptive protocol with --precision: seconds of timed calls after which a cell stops and is flagged imprecise (sooner, from a fifth of it on, when the target is out of reach)'
            cand --dtypes 'The models'' dtypes: each is an axis value crossed with the models and sizes (one value: as --fp16/--bf16) [default: f32]'
            cand --threads 'Intra-op threads of libtorch: each count is an axis value crossed with the models and sizes [default: libtorch''s choice, one per physical core]'
            cand --device 'Device: cpu, cuda or cuda:N [default: cuda:0 where available, else cpu]'
            cand --devices 'Several devices at once: one cell per listed device, each cell''s child pinned to its own (GPUs by CUDA_VISIBLE_DEVICES: cuda:0,cuda:1; CPU core sets by affinity: cpu:0-3,cpu:4-7)'
            cand --weights 'The models'' weights: random (the original''s), or the checkpoint''s safetensors'
            cand --routing 'Mixture-of-experts models (mixtral, qwen3_moe): how tokens are routed to experts'
            cand --optimizer 'Training: also run an optimizer step after backward (none = forward, loss and backward only)'
            cand --profile-trace 'With --profile: also record libtorch''s operators for one call per speed cell and write its Chrome trace (chrome://tracing, ui.perfetto.dev) into DIR'
            cand --input-text 'Feed the models this text through their tokenizers instead of random token ids'
            cand --tokenizer 'The tokenizer.json for --input-text, a file or a folder holding one [default: the model''s: beside its config, in the Hugging Face cache, or from the Hub]'
            cand --export-json 'Write every cell''s settings, raw samples, statistics and N/A reason as JSON (''-'' = stdout)'
            cand --export-markdown 'Write the tables and their notes as Markdown (''-'' = stdout)'
            cand --export-csv 'Write every cell as one tidy CSV file (''-'' = stdout): one header, one row per cell and statistic (model, batch_size, sequence_length, mode, metric, dtype, threads, framework, new_tokens, statistic, value, unit, reason), beside the original''s per-section files'
            cand --resume 'Skip the cells a previous JSON export measured with the same model, sizes and settings, carrying their results over (N/A cells run again). When FILE is also an export of this sweep, it refuses to start if any of FILE''s cells is not part of this sweep (they would be lost)'
            cand --sweep 'Read models, sizes and options from a TOML sweep file; flags on the command line override it'
            cand --log-filename 'The log file (implies --log-print) [default: log_<unix time>.csv, the original''s name]'
            cand --timeout 'Seconds a cell may take before its child process is killed and the cell is N/A'
            cand --seed 'Seed for the random weights and inputs'
            cand --shard 'Run only part K of N of the planned cells (1 <= K <= N: 1/4 .. 4/4), or auto: K and N from a Slurm job array or a Kubernetes Indexed Job; join the parts'' --export-json files with `run-benchmark merge`'
            cand --shard-count '--shard auto in a Kubernetes Indexed Job: the number of parts (the Job''s completions)'
            cand --db 'Append every finished cell of this run to a SQLite results database, for history and baselines; FILE left out: $XDG_DATA_HOME/run-benchmark/results.sqlite (~/.local/share on Linux, ~/Library/Application Support on macOS). Off unless given, here or in the environment'
            cand --label 'The run''s name in the database [default: its git commit and branch, when run inside a repository]'
            cand --save-baseline 'Mark this run, once finished, as the baseline NAME in the database (implies --db); a name already held moves to it'
            cand --training 'Also benchmark training: forward with masked-LM labels plus backward'
            cand --no-inference 'Skip the inference benchmark'
            cand --no-speed 'Skip speed measurements'
            cand --no-memory 'Skip memory measurements'
            cand --no-multi-process 'Measure in this process instead of one child process per cell (for debugging)'
            cand --no-cuda 'Run on the CPU even where CUDA is available'
            cand --only-pretrain-model 'Benchmark the base model rather than the head named by the config''s architectures[0]'
            cand --torchscript 'Trace each model with TorchScript and time the traced module (inference only): --framework torchscript'
            cand --use-xla 'TensorFlow with its call compiled by XLA (the original''s use_xla): --framework tensorflow-xla'
            cand --eager-mode 'TensorFlow executing the model op by op (the original''s eager_mode): --framework tensorflow-eager'
            cand --save-to-csv 'Save the results and the environment information to CSV files'
            cand --env-print 'Print the environment information (versions, CPU, memory, GPUs)'
            cand --recalibrate 'Measure the matmul ceiling again instead of reusing the cached one'
            cand --dry-run 'Print every planned cell with its estimated FLOPs, peak memory and time, and the total; run nothing'
            cand --no-fit-check 'Run cells whose estimated peak memory exceeds the available memory instead of marking them N/A'
            cand --fp16 'Run the model in half precision (float16), as the original''s --fp16'
            cand --bf16 'Run the model in bfloat16'
            cand --flush-subnormals 'With --weights pretrained: set subnormal weights (nonzero values below the dtype''s smallest normal number, which CPU kernels can process many times slower) to zero; their share is reported either way. It changes the model''s outputs by at most those values'' contributions'
            cand --profile 'Speed cells also break their call down by part (embeddings, each layer''s attention projections and kernel, MLP, norms, head, loss, backward, optimizer step): seconds and memory kept per part, and what profiling costs'
            cand -q 'No progress bar or progress lines on stderr (errors are still printed)'
            cand --quiet 'No progress bar or progress lines on stderr (errors are still printed)'
            cand --log-print 'Also write everything printed on stdout and stderr to a plain-text log file'
            cand --verbose 'Print each child''s diagnostics'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand models 'List the embedded model configs and the supported model types'
            cand plot 'Draw time or memory against sequence length (or batch size), one line per model and batch size'
            cand compare 'Compare two JSON exports cell by cell: ratio NEW/BASELINE and a verdict per cell'
            cand merge 'Join the JSON exports of a sharded sweep (--shard K/N) into the whole sweep''s report'
            cand history 'Each cell''s figure over the runs of the results database (--db), changes beyond the run-to-run spread marked'
            cand db 'The results database (--db): its schema, its runs, importing exports and the original''s CSV files'
            cand completions 'Print a shell completion script to stdout'
            cand man 'Print the man page (roff) to stdout: run-benchmark''s, or plot''s, compare''s, merge''s or history''s'
            cand schema 'Print the JSON Schema of --export-json files (schema 2) to stdout'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'run-benchmark;models'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'run-benchmark;plot'= {
            cand -o 'Output file: .svg or .png [default: the first input''s name with .png: results.json -> results.png]'
            cand --output 'Output file: .svg or .png [default: the first input''s name with .png: results.json -> results.png]'
            cand --x 'Horizontal axis'
            cand --mode 'JSON input: which benchmark to draw'
            cand --metric 'What to draw [default: time; for a CSV file, memory when its name says so]'
            cand --title 'Chart title [default: says what is shown]'
            cand --size 'Width and height in pixels'
            cand --since 'With --history: only runs started on or after this date (YYYY-MM-DD)'
            cand --db 'With --history: the results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]'
            cand --linear 'Linear axes instead of log-log (a y range under a factor of 3 is linear anyway)'
            cand --profile 'Draw the --profile breakdowns of a JSON export: one stacked bar per profiled cell, a segment per kind of part'
            cand --roofline 'Draw the roofline of JSON exports: every speed cell (generation: its decode steps) at its FLOPs per byte and achieved GFLOP/s, under the calibrated bandwidth and matmul ceilings'
            cand --history 'Draw the results database''s history instead of files: one line per cell over the runs; RESULTS are then the models to draw [default: all]'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'run-benchmark;compare'= {
            cand --baseline 'Compare against the run saved as baseline NAME in the database (--save-baseline NAME); NEW is then an export, or left out for the database''s newest run'
            cand --db 'The results database for --baseline and --last [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]'
            cand --threshold 'Smallest change, in percent, that counts as a regression or improvement'
            cand --noise-floor 'Run-to-run noise, in percent, that a speed change''s whole 95% interval must exceed [default: 10]'
            cand --noise-from 'Measure the noise floor from two JSON exports of the same code: their largest change'
            cand --format 'Output: a terminal table, or Markdown for a pull-request comment'
            cand --last 'Compare against the database''s newest earlier run that measured any of the same cells'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'run-benchmark;merge'= {
            cand --prefer 'Which result wins when two files measured a cell differently'
            cand --export-json 'Write the merged sweep as JSON (''-'' = stdout)'
            cand --export-markdown 'Write the merged tables as Markdown (''-'' = stdout)'
            cand --save-to-csv 'Write the merged results to the original''s CSV files (<section>_<unix time>.csv)'
            cand --env-print 'Print the environment information'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'run-benchmark;history'= {
            cand --metric 'Which figure to follow'
            cand --since 'Only runs started on or after this date (YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS in UTC)'
            cand --db 'The results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'run-benchmark;db'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand schema 'Print the database''s schema (SQL), as a new database gets it'
            cand runs 'List the stored runs: id, date, label, commit, cells, baselines'
            cand import 'Import JSON exports (schema 1 and 2; a run each) and the original''s result CSV files (those given together: one run)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'run-benchmark;db;schema'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'run-benchmark;db;runs'= {
            cand --db 'The results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'run-benchmark;db;import'= {
            cand --label 'The runs'' label [default: the file''s name]'
            cand --save-baseline 'Mark the (last) imported run as the baseline NAME'
            cand --db 'The results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'run-benchmark;db;help'= {
            cand schema 'Print the database''s schema (SQL), as a new database gets it'
            cand runs 'List the stored runs: id, date, label, commit, cells, baselines'
            cand import 'Import JSON exports (schema 1 and 2; a run each) and the original''s result CSV files (those given together: one run)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'run-benchmark;db;help;schema'= {
        }
        &'run-benchmark;db;help;runs'= {
        }
        &'run-benchmark;db;help;import'= {
        }
        &'run-benchmark;db;help;help'= {
        }
        &'run-benchmark;completions'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'run-benchmark;man'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'run-benchmark;schema'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'run-benchmark;help'= {
            cand models 'List the embedded model configs and the supported model types'
            cand plot 'Draw time or memory against sequence length (or batch size), one line per model and batch size'
            cand compare 'Compare two JSON exports cell by cell: ratio NEW/BASELINE and a verdict per cell'
            cand merge 'Join the JSON exports of a sharded sweep (--shard K/N) into the whole sweep''s report'
            cand history 'Each cell''s figure over the runs of the results database (--db), changes beyond the run-to-run spread marked'
            cand db 'The results database (--db): its schema, its runs, importing exports and the original''s CSV files'
            cand completions 'Print a shell completion script to stdout'
            cand man 'Print the man page (roff) to stdout: run-benchmark''s, or plot''s, compare''s, merge''s or history''s'
            cand schema 'Print the JSON Schema of --export-json files (schema 2) to stdout'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'run-benchmark;help;models'= {
        }
        &'run-benchmark;help;plot'= {
        }
        &'run-benchmark;help;compare'= {
        }
        &'run-benchmark;help;merge'= {
        }
        &'run-benchmark;help;history'= {
        }
        &'run-benchmark;help;db'= {
            cand schema 'Print the database''s schema (SQL), as a new database gets it'
            cand runs 'List the stored runs: id, date, label, commit, cells, baselines'
            cand import 'Import JSON exports (schema 1 and 2; a run each) and the original''s result CSV files (those given together: one run)'
        }
        &'run-benchmark;help;db;schema'= {
        }
        &'run-benchmark;help;db;runs'= {
        }
        &'run-benchmark;help;db;import'= {
        }
        &'run-benchmark;help;completions'= {
        }
        &'run-benchmark;help;man'= {
        }
        &'run-benchmark;help;schema'= {
        }
        &'run-benchmark;help;help'= {
        }
    ]
    $completions[$command]
}
