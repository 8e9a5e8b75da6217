
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'run-benchmark' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'run-benchmark'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'run-benchmark' {
            [CompletionResult]::new('--models', '--models', [CompletionResultType]::ParameterName, 'Models to benchmark: Hub ids, short names or config paths, each optionally varied (see MODELS)')
            [CompletionResult]::new('--batch-sizes', '--batch-sizes', [CompletionResultType]::ParameterName, 'Batch sizes to measure [default: 8]')
            [CompletionResult]::new('--sequence-lengths', '--sequence-lengths', [CompletionResultType]::ParameterName, 'Sequence lengths to measure (for vision models such as ViT: image sides in pixels) [default: 8 32 128 512]')
            [CompletionResult]::new('--generate', '--generate', [CompletionResultType]::ParameterName, 'Also benchmark generation of N new tokens after prompts of each sequence length')
            [CompletionResult]::new('--framework', '--framework', [CompletionResultType]::ParameterName, 'The frameworks: each is an axis value crossed with the models and sizes, as --dtypes. pytorch: libtorch eager (f32, f16, bf16); torchscript: the model traced (inference only); tensorflow: TensorFlow''s C API, the model built once as a graph and each call that graph run as one function by its eager runtime (as tf.function), inference and training (f32; f16 and bf16 where its CPU kernels have them); tensorflow-xla: that graph''s call compiled by XLA, the compile timed apart in the build; tensorflow-eager: the original''s eager mode, that graph''s ops executed one at a time by the eager runtime (the same forward, loss and gradient ops, each dispatched from the host); onnxruntime: ONNX Runtime, the model built in memory as an ONNX graph, inference only (f32). TensorFlow and ONNX Runtime cells run in run-benchmark-graph, without libtorch, on bert, roberta, xlm-roberta, distilbert, electra, albert, gpt2, llama, mistral, qwen2 and qwen3 configs; other families, and --generate''s cells (generation over a KV cache is measured with libtorch only), are N/A [default: pytorch]')
            [CompletionResult]::new('--onnxruntime-level', '--onnxruntime-level', [CompletionResultType]::ParameterName, 'ONNX Runtime''s graph optimisation level for --framework onnxruntime cells (ORT_DISABLE_ALL ... ORT_ENABLE_ALL), reported in the environment [default: all, as users run it]')
            [CompletionResult]::new('--inference-time-csv-file', '--inference-time-csv-file', [CompletionResultType]::ParameterName, 'CSV file for inference times [default: inference_time_<unix time>.csv]')
            [CompletionResult]::new('--inference-memory-csv-file', '--inference-memory-csv-file', [CompletionResultType]::ParameterName, 'CSV file for inference memory [default: inference_memory_<unix time>.csv]')
            [CompletionResult]::new('--train-time-csv-file', '--train-time-csv-file', [CompletionResultType]::ParameterName, 'CSV file for training times [default: train_time_<unix time>.csv]')
            [CompletionResult]::new('--train-memory-csv-file', '--train-memory-csv-file', [CompletionResultType]::ParameterName, 'CSV file for training memory [default: train_memory_<unix time>.csv]')
            [CompletionResult]::new('--env-info-csv-file', '--env-info-csv-file', [CompletionResultType]::ParameterName, 'CSV file for the environment information [default: env_info_<unix time>.csv]')
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'Timing protocol: adaptive (warm-up, then runs until --min-runs and --min-time; median) or original (--repeat x 10 calls; minimum)')
            [CompletionResult]::new('--repeat', '--repeat', [CompletionResultType]::ParameterName, 'Original protocol: repetitions of 10 calls; the table shows the fastest, per call')
            [CompletionResult]::new('--warmup', '--warmup', [CompletionResultType]::ParameterName, 'Adaptive protocol: untimed warm-up calls before measuring')
            [CompletionResult]::new('--warmup-time', '--warmup-time', [CompletionResultType]::ParameterName, 'Adaptive protocol: warm-up ends sooner, after at least one call, once its calls have taken this long (a memory cell''s call in the same child counts)')
            [CompletionResult]::new('--min-runs', '--min-runs', [CompletionResultType]::ParameterName, 'Adaptive protocol: fewest timed calls (with --precision, at least 6: the fewest with a 95% interval of the median)')
            [CompletionResult]::new('--max-runs', '--max-runs', [CompletionResultType]::ParameterName, 'Adaptive protocol: most timed calls')
            [CompletionResult]::new('--runs', '--runs', [CompletionResultType]::ParameterName, 'Adaptive protocol: exactly N timed calls (sets --min-runs and --max-runs, ignores --min-time)')
            [CompletionResult]::new('--min-time', '--min-time', [CompletionResultType]::ParameterName, 'Adaptive protocol: least total seconds of timed calls')
            [CompletionResult]::new('--precision', '--precision', [CompletionResultType]::ParameterName, 'Adaptive protocol: time until the 95% interval of the median is within this much of it (''off'': stop at --min-runs and --min-time)')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Adaptive protocol with --precision: seconds of timed calls after which a cell stops and is flagged imprecise (sooner, from a fifth of it on, when the target is out of reach)')
            [CompletionResult]::new('--dtypes', '--dtypes', [CompletionResultType]::ParameterName, 'The models'' dtypes: each is an axis value crossed with the models and sizes (one value: as --fp16/--bf16) [default: f32]')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Intra-op threads of libtorch: each count is an axis value crossed with the models and sizes [default: libtorch''s choice, one per physical core]')
            [CompletionResult]::new('--device', '--device', [CompletionResultType]::ParameterName, 'Device: cpu, cuda or cuda:N [default: cuda:0 where available, else cpu]')
            [CompletionResult]::new('--devices', '--devices', [CompletionResultType]::ParameterName, 'Several devices at once: one cell per listed device, each cell''s child pinned to its own (GPUs by CUDA_VISIBLE_DEVICES: cuda:0,cuda:1; CPU core sets by affinity: cpu:0-3,cpu:4-7)')
            [CompletionResult]::new('--weights', '--weights', [CompletionResultType]::ParameterName, 'The models'' weights: random (the original''s), or the checkpoint''s safetensors')
            [CompletionResult]::new('--routing', '--routing', [CompletionResultType]::ParameterName, 'Mixture-of-experts models (mixtral, qwen3_moe): how tokens are routed to experts')
            [CompletionResult]::new('--optimizer', '--optimizer', [CompletionResultType]::ParameterName, 'Training: also run an optimizer step after backward (none = forward, loss and backward only)')
            [CompletionResult]::new('--profile-trace', '--profile-trace', [CompletionResultType]::ParameterName, 'With --profile: also record libtorch''s operators for one call per speed cell and write its Chrome trace (chrome://tracing, ui.perfetto.dev) into DIR')
            [CompletionResult]::new('--input-text', '--input-text', [CompletionResultType]::ParameterName, 'Feed the models this text through their tokenizers instead of random token ids')
            [CompletionResult]::new('--tokenizer', '--tokenizer', [CompletionResultType]::ParameterName, 'The tokenizer.json for --input-text, a file or a folder holding one [default: the model''s: beside its config, in the Hugging Face cache, or from the Hub]')
            [CompletionResult]::new('--export-json', '--export-json', [CompletionResultType]::ParameterName, 'Write every cell''s settings, raw samples, statistics and N/A reason as JSON (''-'' = stdout)')
            [CompletionResult]::new('--export-markdown', '--export-markdown', [CompletionResultType]::ParameterName, 'Write the tables and their notes as Markdown (''-'' = stdout)')
            [CompletionResult]::new('--export-csv', '--export-csv', [CompletionResultType]::ParameterName, 'Write every cell as one tidy CSV file (''-'' = stdout): one header, one row per cell and statistic (model, batch_size, sequence_length, mode, metric, dtype, threads, framework, new_tokens, statistic, value, unit, reason), beside the original''s per-section files')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Skip the cells a previous JSON export measured with the same model, sizes and settings, carrying their results over (N/A cells run again). When FILE is also an export of this sweep, it refuses to start if any of FILE''s cells is not part of this sweep (they would be lost)')
            [CompletionResult]::new('--sweep', '--sweep', [CompletionResultType]::ParameterName, 'Read models, sizes and options from a TOML sweep file; flags on the command line override it')
            [CompletionResult]::new('--log-filename', '--log-filename', [CompletionResultType]::ParameterName, 'The log file (implies --log-print) [default: log_<unix time>.csv, the original''s name]')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds a cell may take before its child process is killed and the cell is N/A')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Seed for the random weights and inputs')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Run only part K of N of the planned cells (1 <= K <= N: 1/4 .. 4/4), or auto: K and N from a Slurm job array or a Kubernetes Indexed Job; join the parts'' --export-json files with `run-benchmark merge`')
            [CompletionResult]::new('--shard-count', '--shard-count', [CompletionResultType]::ParameterName, '--shard auto in a Kubernetes Indexed Job: the number of parts (the Job''s completions)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Append every finished cell of this run to a SQLite results database, for history and baselines; FILE left out: $XDG_DATA_HOME/run-benchmark/results.sqlite (~/.local/share on Linux, ~/Library/Application Support on macOS). Off unless given, here or in the environment')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'The run''s name in the database [default: its git commit and branch, when run inside a repository]')
            [CompletionResult]::new('--save-baseline', '--save-baseline', [CompletionResultType]::ParameterName, 'Mark this run, once finished, as the baseline NAME in the database (implies --db); a name already held moves to it')
            [CompletionResult]::new('--training', '--training', [CompletionResultType]::ParameterName, 'Also benchmark training: forward with masked-LM labels plus backward')
            [CompletionResult]::new('--no-inference', '--no-inference', [CompletionResultType]::ParameterName, 'Skip the inference benchmark')
            [CompletionResult]::new('--no-speed', '--no-speed', [CompletionResultType]::ParameterName, 'Skip speed measurements')
            [CompletionResult]::new('--no-memory', '--no-memory', [CompletionResultType]::ParameterName, 'Skip memory measurements')
            [CompletionResult]::new('--no-multi-process', '--no-multi-process', [CompletionResultType]::ParameterName, 'Measure in this process instead of one child process per cell (for debugging)')
            [CompletionResult]::new('--no-cuda', '--no-cuda', [CompletionResultType]::ParameterName, 'Run on the CPU even where CUDA is available')
            [CompletionResult]::new('--only-pretrain-model', '--only-pretrain-model', [CompletionResultType]::ParameterName, 'Benchmark the base model rather than the head named by the config''s architectures[0]')
            [CompletionResult]::new('--torchscript', '--torchscript', [CompletionResultType]::ParameterName, 'Trace each model with TorchScript and time the traced module (inference only): --framework torchscript')
            [CompletionResult]::new('--use-xla', '--use-xla', [CompletionResultType]::ParameterName, 'TensorFlow with its call compiled by XLA (the original''s use_xla): --framework tensorflow-xla')
            [CompletionResult]::new('--eager-mode', '--eager-mode', [CompletionResultType]::ParameterName, 'TensorFlow executing the model op by op (the original''s eager_mode): --framework tensorflow-eager')
            [CompletionResult]::new('--save-to-csv', '--save-to-csv', [CompletionResultType]::ParameterName, 'Save the results and the environment information to CSV files')
            [CompletionResult]::new('--env-print', '--env-print', [CompletionResultType]::ParameterName, 'Print the environment information (versions, CPU, memory, GPUs)')
            [CompletionResult]::new('--recalibrate', '--recalibrate', [CompletionResultType]::ParameterName, 'Measure the matmul ceiling again instead of reusing the cached one')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print every planned cell with its estimated FLOPs, peak memory and time, and the total; run nothing')
            [CompletionResult]::new('--no-fit-check', '--no-fit-check', [CompletionResultType]::ParameterName, 'Run cells whose estimated peak memory exceeds the available memory instead of marking them N/A')
            [CompletionResult]::new('--fp16', '--fp16', [CompletionResultType]::ParameterName, 'Run the model in half precision (float16), as the original''s --fp16')
            [CompletionResult]::new('--bf16', '--bf16', [CompletionResultType]::ParameterName, 'Run the model in bfloat16')
            [CompletionResult]::new('--flush-subnormals', '--flush-subnormals', [CompletionResultType]::ParameterName, 'With --weights pretrained: set subnormal weights (nonzero values below the dtype''s smallest normal number, which CPU kernels can process many times slower) to zero; their share is reported either way. It changes the model''s outputs by at most those values'' contributions')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Speed cells also break their call down by part (embeddings, each layer''s attention projections and kernel, MLP, norms, head, loss, backward, optimizer step): seconds and memory kept per part, and what profiling costs')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bar or progress lines on stderr (errors are still printed)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bar or progress lines on stderr (errors are still printed)')
            [CompletionResult]::new('--log-print', '--log-print', [CompletionResultType]::ParameterName, 'Also write everything printed on stdout and stderr to a plain-text log file')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print each child''s diagnostics')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('models', 'models', [CompletionResultType]::ParameterValue, 'List the embedded model configs and the supported model types')
            [CompletionResult]::new('plot', 'plot', [CompletionResultType]::ParameterValue, 'Draw time or memory against sequence length (or batch size), one line per model and batch size')
            [CompletionResult]::new('compare', 'compare', [CompletionResultType]::ParameterValue, 'Compare two JSON exports cell by cell: ratio NEW/BASELINE and a verdict per cell')
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Join the JSON exports of a sharded sweep (--shard K/N) into the whole sweep''s report')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'Each cell''s figure over the runs of the results database (--db), changes beyond the run-to-run spread marked')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'The results database (--db): its schema, its runs, importing exports and the original''s CSV files')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff) to stdout: run-benchmark''s, or plot''s, compare''s, merge''s or history''s')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of --export-json files (schema 2) to stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'run-benchmark;models' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'run-benchmark;plot' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output file: .svg or .png [default: the first input''s name with .png: results.json -> results.png]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output file: .svg or .png [default: the first input''s name with .png: results.json -> results.png]')
            [CompletionResult]::new('--x', '--x', [CompletionResultType]::ParameterName, 'Horizontal axis')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'JSON input: which benchmark to draw')
            [CompletionResult]::new('--metric', '--metric', [CompletionResultType]::ParameterName, 'What to draw [default: time; for a CSV file, memory when its name says so]')
            [CompletionResult]::new('--title', '--title', [CompletionResultType]::ParameterName, 'Chart title [default: says what is shown]')
            [CompletionResult]::new('--size', '--size', [CompletionResultType]::ParameterName, 'Width and height in pixels')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'With --history: only runs started on or after this date (YYYY-MM-DD)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'With --history: the results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]')
            [CompletionResult]::new('--linear', '--linear', [CompletionResultType]::ParameterName, 'Linear axes instead of log-log (a y range under a factor of 3 is linear anyway)')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Draw the --profile breakdowns of a JSON export: one stacked bar per profiled cell, a segment per kind of part')
            [CompletionResult]::new('--roofline', '--roofline', [CompletionResultType]::ParameterName, 'Draw the roofline of JSON exports: every speed cell (generation: its decode steps) at its FLOPs per byte and achieved GFLOP/s, under the calibrated bandwidth and matmul ceilings')
            [CompletionResult]::new('--history', '--history', [CompletionResultType]::ParameterName, 'Draw the results database''s history instead of files: one line per cell over the runs; RESULTS are then the models to draw [default: all]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'run-benchmark;compare' {
            [CompletionResult]::new('--baseline', '--baseline', [CompletionResultType]::ParameterName, 'Compare against the run saved as baseline NAME in the database (--save-baseline NAME); NEW is then an export, or left out for the database''s newest run')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The results database for --baseline and --last [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]')
            [CompletionResult]::new('--threshold', '--threshold', [CompletionResultType]::ParameterName, 'Smallest change, in percent, that counts as a regression or improvement')
            [CompletionResult]::new('--noise-floor', '--noise-floor', [CompletionResultType]::ParameterName, 'Run-to-run noise, in percent, that a speed change''s whole 95% interval must exceed [default: 10]')
            [CompletionResult]::new('--noise-from', '--noise-from', [CompletionResultType]::ParameterName, 'Measure the noise floor from two JSON exports of the same code: their largest change')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output: a terminal table, or Markdown for a pull-request comment')
            [CompletionResult]::new('--last', '--last', [CompletionResultType]::ParameterName, 'Compare against the database''s newest earlier run that measured any of the same cells')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'run-benchmark;merge' {
            [CompletionResult]::new('--prefer', '--prefer', [CompletionResultType]::ParameterName, 'Which result wins when two files measured a cell differently')
            [CompletionResult]::new('--export-json', '--export-json', [CompletionResultType]::ParameterName, 'Write the merged sweep as JSON (''-'' = stdout)')
            [CompletionResult]::new('--export-markdown', '--export-markdown', [CompletionResultType]::ParameterName, 'Write the merged tables as Markdown (''-'' = stdout)')
            [CompletionResult]::new('--save-to-csv', '--save-to-csv', [CompletionResultType]::ParameterName, 'Write the merged results to the original''s CSV files (<section>_<unix time>.csv)')
            [CompletionResult]::new('--env-print', '--env-print', [CompletionResultType]::ParameterName, 'Print the environment information')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'run-benchmark;history' {
            [CompletionResult]::new('--metric', '--metric', [CompletionResultType]::ParameterName, 'Which figure to follow')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only runs started on or after this date (YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS in UTC)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'run-benchmark;db' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the database''s schema (SQL), as a new database gets it')
            [CompletionResult]::new('runs', 'runs', [CompletionResultType]::ParameterValue, 'List the stored runs: id, date, label, commit, cells, baselines')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import JSON exports (schema 1 and 2; a run each) and the original''s result CSV files (those given together: one run)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'run-benchmark;db;schema' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'run-benchmark;db;runs' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'run-benchmark;db;import' {
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'The runs'' label [default: the file''s name]')
            [CompletionResult]::new('--save-baseline', '--save-baseline', [CompletionResultType]::ParameterName, 'Mark the (last) imported run as the baseline NAME')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'The results database [default: $XDG_DATA_HOME/run-benchmark/results.sqlite]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'run-benchmark;db;help' {
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the database''s schema (SQL), as a new database gets it')
            [CompletionResult]::new('runs', 'runs', [CompletionResultType]::ParameterValue, 'List the stored runs: id, date, label, commit, cells, baselines')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import JSON exports (schema 1 and 2; a run each) and the original''s result CSV files (those given together: one run)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'run-benchmark;db;help;schema' {
            break
        }
        'run-benchmark;db;help;runs' {
            break
        }
        'run-benchmark;db;help;import' {
            break
        }
        'run-benchmark;db;help;help' {
            break
        }
        'run-benchmark;completions' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'run-benchmark;man' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'run-benchmark;schema' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'run-benchmark;help' {
            [CompletionResult]::new('models', 'models', [CompletionResultType]::ParameterValue, 'List the embedded model configs and the supported model types')
            [CompletionResult]::new('plot', 'plot', [CompletionResultType]::ParameterValue, 'Draw time or memory against sequence length (or batch size), one line per model and batch size')
            [CompletionResult]::new('compare', 'compare', [CompletionResultType]::ParameterValue, 'Compare two JSON exports cell by cell: ratio NEW/BASELINE and a verdict per cell')
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Join the JSON exports of a sharded sweep (--shard K/N) into the whole sweep''s report')
            [CompletionResult]::new('history', 'history', [CompletionResultType]::ParameterValue, 'Each cell''s figure over the runs of the results database (--db), changes beyond the run-to-run spread marked')
            [CompletionResult]::new('db', 'db', [CompletionResultType]::ParameterValue, 'The results database (--db): its schema, its runs, importing exports and the original''s CSV files')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script to stdout')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff) to stdout: run-benchmark''s, or plot''s, compare''s, merge''s or history''s')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the JSON Schema of --export-json files (schema 2) to stdout')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'run-benchmark;help;models' {
            break
        }
        'run-benchmark;help;plot' {
            break
        }
        'run-benchmark;help;compare' {
            break
        }
        'run-benchmark;help;merge' {
            break
        }
        'run-benchmark;help;history' {
            break
        }
        'run-benchmark;help;db' {
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print the database''s schema (SQL), as a new database gets it')
            [CompletionResult]::new('runs', 'runs', [CompletionResultType]::ParameterValue, 'List the stored runs: id, date, label, commit, cells, baselines')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Import JSON exports (schema 1 and 2; a run each) and the original''s result CSV files (those given together: one run)')
            break
        }
        'run-benchmark;help;db;schema' {
            break
        }
        'run-benchmark;help;db;runs' {
            break
        }
        'run-benchmark;help;db;import' {
            break
        }
        'run-benchmark;help;completions' {
            break
        }
        'run-benchmark;help;man' {
            break
        }
        'run-benchmark;help;schema' {
            break
        }
        'run-benchmark;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
