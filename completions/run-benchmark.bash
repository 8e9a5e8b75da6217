_run__benchmark() {
    local i cur prev opts cmd
    COMPREPLY=()
    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
        cur="$2"
    else
        cur="${COMP_WORDS[COMP_CWORD]}"
    fi
    prev="$3"
    cmd=""
    opts=""

    for i in "${COMP_WORDS[@]:0:COMP_CWORD}"
    do
        case "${cmd},${i}" in
            ",$1")
                cmd="run__benchmark"
                ;;
            run__benchmark,compare)
                cmd="run__benchmark__subcmd__compare"
                ;;
            run__benchmark,completions)
                cmd="run__benchmark__subcmd__completions"
                ;;
            run__benchmark,db)
                cmd="run__benchmark__subcmd__db"
                ;;
            run__benchmark,help)
                cmd="run__benchmark__subcmd__help"
                ;;
            run__benchmark,history)
                cmd="run__benchmark__subcmd__history"
                ;;
            run__benchmark,man)
                cmd="run__benchmark__subcmd__man"
                ;;
            run__benchmark,merge)
                cmd="run__benchmark__subcmd__merge"
                ;;
            run__benchmark,models)
                cmd="run__benchmark__subcmd__models"
                ;;
            run__benchmark,plot)
                cmd="run__benchmark__subcmd__plot"
                ;;
            run__benchmark,schema)
                cmd="run__benchmark__subcmd__schema"
                ;;
            run__benchmark__subcmd__db,help)
                cmd="run__benchmark__subcmd__db__subcmd__help"
                ;;
            run__benchmark__subcmd__db,import)
                cmd="run__benchmark__subcmd__db__subcmd__import"
                ;;
            run__benchmark__subcmd__db,runs)
                cmd="run__benchmark__subcmd__db__subcmd__runs"
                ;;
            run__benchmark__subcmd__db,schema)
                cmd="run__benchmark__subcmd__db__subcmd__schema"
                ;;
            run__benchmark__subcmd__db__subcmd__help,help)
                cmd="run__benchmark__subcmd__db__subcmd__help__subcmd__help"
                ;;
            run__benchmark__subcmd__db__subcmd__help,import)
                cmd="run__benchmark__subcmd__db__subcmd__help__subcmd__import"
                ;;
            run__benchmark__subcmd__db__subcmd__help,runs)
                cmd="run__benchmark__subcmd__db__subcmd__help__subcmd__runs"
                ;;
            run__benchmark__subcmd__db__subcmd__help,schema)
                cmd="run__benchmark__subcmd__db__subcmd__help__subcmd__schema"
                ;;
            run__benchmark__subcmd__help,compare)
                cmd="run__benchmark__subcmd__help__subcmd__compare"
                ;;
            run__benchmark__subcmd__help,completions)
                cmd="run__benchmark__subcmd__help__subcmd__completions"
                ;;
            run__benchmark__subcmd__help,db)
                cmd="run__benchmark__subcmd__help__subcmd__db"
                ;;
            run__benchmark__subcmd__help,help)
                cmd="run__benchmark__subcmd__help__subcmd__help"
                ;;
            run__benchmark__subcmd__help,history)
                cmd="run__benchmark__subcmd__help__subcmd__history"
                ;;
            run__benchmark__subcmd__help,man)
                cmd="run__benchmark__subcmd__help__subcmd__man"
                ;;
            run__benchmark__subcmd__help,merge)
                cmd="run__benchmark__subcmd__help__subcmd__merge"
                ;;
            run__benchmark__subcmd__help,models)
                cmd="run__benchmark__subcmd__help__subcmd__models"
                ;;
            run__benchmark__subcmd__help,plot)
                cmd="run__benchmark__subcmd__help__subcmd__plot"
                ;;
            run__benchmark__subcmd__help,schema)
                cmd="run__benchmark__subcmd__help__subcmd__schema"
                ;;
            run__benchmark__subcmd__help__subcmd__db,import)
                cmd="run__benchmark__subcmd__help__subcmd__db__subcmd__import"
                ;;
            run__benchmark__subcmd__help__subcmd__db,runs)
                cmd="run__benchmark__subcmd__help__subcmd__db__subcmd__runs"
                ;;
            run__benchmark__subcmd__help__subcmd__db,schema)
                cmd="run__benchmark__subcmd__help__subcmd__db__subcmd__schema"
                ;;
            *)
                ;;
        esac
    done

    case "${cmd}" in
        run__benchmark)
            opts="-q -h -V --models --batch-sizes --sequence-lengths --generate --training --no-inference --no-speed --no-memory --no-multi-process --no-cuda --only-pretrain-model --torchscript --framework --use-xla --onnxruntime-level --eager-mode --save-to-csv --inference-time-csv-file --inference-memory-csv-file --train-time-csv-file --train-memory-csv-file --env-info-csv-file --env-print --protocol --repeat --warmup --warmup-time --min-runs --max-runs --runs --min-time --precision --max-time --recalibrate --dry-run --no-fit-check --fp16 --bf16 --dtypes --threads --device --devices --weights --flush-subnormals --routing --optimizer --profile --profile-trace --input-text --tokenizer --export-json --export-markdown --export-csv --resume --sweep --quiet --log-print --log-filename --timeout --seed --verbose --shard --shard-count --db --label --save-baseline --help --version models plot compare merge history db completions man schema help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 1 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --models)
                    COMPREPLY=($(compgen -W "albert-base-v2 all-MiniLM-L6-v2 bart-base bart-large bert-base bert-base-cased bert-base-uncased bert-large-uncased bge-small-en-v1.5 deberta-v3-base distilbert-base-uncased distilgpt2 electra-base-discriminator flan-t5-small gemma-2-2b-it gemma-2b gemma-3-1b-it gpt-neo-125m gpt2 gpt2-large gpt2-medium Llama-2-7b-hf Llama-3.2-1B Meta-Llama-3-8B Mistral-7B-v0.1 Mixtral-8x7B-v0.1 ModernBERT-base opt-125m phi-2 Phi-3-mini-4k-instruct Phi-3.5-mini-instruct pythia-160m Qwen2.5-0.5B Qwen2.5-7B Qwen3-0.6B Qwen3-30B-A3B roberta-base roberta-large SmolLM2-135M SmolLM2-360M t5-base t5-small TinyLlama-1.1B-Chat-v1.0 vit-base-patch16-224 whisper-base whisper-tiny xlm-roberta-base albert/albert-base-v2 answerdotai/ModernBERT-base BAAI/bge-small-en-v1.5 distilbert/distilbert-base-uncased distilbert/distilgpt2 EleutherAI/gpt-neo-125m EleutherAI/pythia-160m facebook/bart-base facebook/bart-large facebook/opt-125m FacebookAI/roberta-base FacebookAI/roberta-large FacebookAI/xlm-roberta-base google-bert/bert-base-cased google-bert/bert-base-uncased google-bert/bert-large-uncased google-t5/t5-base google-t5/t5-small google/electra-base-discriminator google/flan-t5-small google/gemma-2-2b-it google/gemma-2b google/gemma-3-1b-it google/vit-base-patch16-224 HuggingFaceTB/SmolLM2-135M HuggingFaceTB/SmolLM2-360M meta-llama/Llama-2-7b-hf meta-llama/Llama-3.2-1B meta-llama/Meta-Llama-3-8B microsoft/deberta-v3-base microsoft/phi-2 microsoft/Phi-3-mini-4k-instruct microsoft/Phi-3.5-mini-instruct mistralai/Mistral-7B-v0.1 mistralai/Mixtral-8x7B-v0.1 openai-community/gpt2 openai-community/gpt2-large openai-community/gpt2-medium openai/whisper-base openai/whisper-tiny Qwen/Qwen2.5-0.5B Qwen/Qwen2.5-7B Qwen/Qwen3-0.6B Qwen/Qwen3-30B-A3B sentence-transformers/all-MiniLM-L6-v2 TinyLlama/TinyLlama-1.1B-Chat-v1.0" -- "${cur}"))
                    return 0
                    ;;
                --batch-sizes)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sequence-lengths)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --generate)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --framework)
                    COMPREPLY=($(compgen -W "pytorch torchscript tensorflow tensorflow-xla tensorflow-eager onnxruntime" -- "${cur}"))
                    return 0
                    ;;
                --onnxruntime-level)
                    COMPREPLY=($(compgen -W "disable basic extended layout all" -- "${cur}"))
                    return 0
                    ;;
                --inference-time-csv-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --inference-memory-csv-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --train-time-csv-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --train-memory-csv-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --env-info-csv-file)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --protocol)
                    COMPREPLY=($(compgen -W "adaptive original" -- "${cur}"))
                    return 0
                    ;;
                --repeat)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --warmup)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --warmup-time)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --min-runs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-runs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --runs)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --min-time)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --precision)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --max-time)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --dtypes)
                    COMPREPLY=($(compgen -W "f32 f16 bf16" -- "${cur}"))
                    return 0
                    ;;
                --threads)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --device)
                    COMPREPLY=($(compgen -W "cpu cuda cuda:0 cuda:1 cuda:2 cuda:3" -- "${cur}"))
                    return 0
                    ;;
                --devices)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --weights)
                    COMPREPLY=($(compgen -W "random pretrained" -- "${cur}"))
                    return 0
                    ;;
                --routing)
                    COMPREPLY=($(compgen -W "model balanced" -- "${cur}"))
                    return 0
                    ;;
                --optimizer)
                    COMPREPLY=($(compgen -W "none sgd adamw" -- "${cur}"))
                    return 0
                    ;;
                --profile-trace)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --input-text)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --tokenizer)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --export-json)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --export-markdown)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --export-csv)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --resume)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --sweep)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --log-filename)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --timeout)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --seed)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --shard)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --shard-count)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --label)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --save-baseline)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__compare)
            opts="-h --baseline --last --db --threshold --noise-floor --noise-from --format --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --baseline)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --threshold)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --noise-floor)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --noise-from)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --format)
                    COMPREPLY=($(compgen -W "table markdown" -- "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__completions)
            opts="-h --help bash elvish fish powershell zsh"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__db)
            opts="-h --help schema runs import help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__db__subcmd__help)
            opts="schema runs import help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__db__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__db__subcmd__help__subcmd__import)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__db__subcmd__help__subcmd__runs)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__db__subcmd__help__subcmd__schema)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__db__subcmd__import)
            opts="-h --label --save-baseline --db --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --label)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --save-baseline)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__db__subcmd__runs)
            opts="-h --db --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__db__subcmd__schema)
            opts="-h --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help)
            opts="models plot compare merge history db completions man schema help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__compare)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__completions)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__db)
            opts="schema runs import"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__db__subcmd__import)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__db__subcmd__runs)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__db__subcmd__schema)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 4 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__help)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__history)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__man)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__merge)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__models)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__plot)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__help__subcmd__schema)
            opts=""
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 3 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__history)
            opts="-h --metric --since --db --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --metric)
                    COMPREPLY=($(compgen -W "time memory" -- "${cur}"))
                    return 0
                    ;;
                --since)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__man)
            opts="-h --help plot compare merge history"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__merge)
            opts="-h --prefer --export-json --export-markdown --save-to-csv --env-print --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --prefer)
                    COMPREPLY=($(compgen -W "first last" -- "${cur}"))
                    return 0
                    ;;
                --export-json)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --export-markdown)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__models)
            opts="-h --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__plot)
            opts="-o -h --output --x --linear --mode --metric --profile --roofline --title --size --history --since --db --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                --output)
                    local oldifs
                    if [ -n "${IFS+x}" ]; then
                        oldifs="$IFS"
                    fi
                    IFS=$'\n'
                    COMPREPLY=($(compgen -f "${cur}"))
                    if [ -n "${oldifs+x}" ]; then
                        IFS="$oldifs"
                    fi
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o filenames
                    fi
                    return 0
                    ;;
                -o)
                    local oldifs
                    if [ -n "${IFS+x}" ]; then
                        oldifs="$IFS"
                    fi
                    IFS=$'\n'
                    COMPREPLY=($(compgen -f "${cur}"))
                    if [ -n "${oldifs+x}" ]; then
                        IFS="$oldifs"
                    fi
                    if [[ "${BASH_VERSINFO[0]}" -ge 4 ]]; then
                        compopt -o filenames
                    fi
                    return 0
                    ;;
                --x)
                    COMPREPLY=($(compgen -W "sequence-length batch-size" -- "${cur}"))
                    return 0
                    ;;
                --mode)
                    COMPREPLY=($(compgen -W "inference training generation" -- "${cur}"))
                    return 0
                    ;;
                --metric)
                    COMPREPLY=($(compgen -W "time memory increase" -- "${cur}"))
                    return 0
                    ;;
                --title)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --size)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --since)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                --db)
                    COMPREPLY=($(compgen -f "${cur}"))
                    return 0
                    ;;
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
        run__benchmark__subcmd__schema)
            opts="-h --help"
            if [[ ${cur} == -* || ${COMP_CWORD} -eq 2 ]] ; then
                COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
                return 0
            fi
            case "${prev}" in
                *)
                    COMPREPLY=()
                    ;;
            esac
            COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
            return 0
            ;;
    esac
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _run__benchmark -o nosort -o bashdefault -o default run-benchmark
else
    complete -F _run__benchmark -o bashdefault -o default run-benchmark
fi
