//! Generation cells end to end (`--generate`): real child processes decoding tiny models,
//! the GENERATION sections, their CSV files, the JSON export with every per-token reading,
//! the KV cache's size, N/A reasons, and resume, plot and compare over generation cells.

mod e2e;

use e2e::{bin, read, QUICK, TINY};
use serde_json::Value;

/// GPT-2 and T5, shrunk (2 layers, 2 heads of 16, 99 tokens).
const GPT2: &str = "gpt2-tiny=gpt2:n_embd=32,n_layer=2,n_head=2,vocab_size=99,n_positions=40";
const T5: &str =
    "t5-tiny=t5-small:d_model=32,d_kv=16,d_ff=64,num_layers=2,num_heads=2,vocab_size=99";

fn rows(json: &Value) -> &Vec<Value> {
    json["rows"].as_array().expect("rows")
}

fn generation_rows<'a>(json: &'a Value, metric: &str) -> Vec<&'a Value> {
    rows(json)
        .iter()
        .filter(|r| r["cell"]["mode"] == "generation" && r["cell"]["metric"] == metric)
        .collect()
}

#[test]
fn generation_sweep_measures_decoders_and_encoder_decoders_and_rejects_encoders() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("run.json");
    let output = bin()
        .current_dir(dir.path())
        .args(["--models", GPT2, T5])
        .arg(format!("{}/{TINY}", env!("CARGO_MANIFEST_DIR")))
        .args(["--batch-sizes", "1", "2", "--sequence-lengths", "8"])
        .args(["--generate", "4", "--no-inference", "--save-to-csv"])
        .args(QUICK)
        .arg("--export-json")
        .arg(&json_path)
        .assert()
        .success();
    let stdout = String::from_utf8(output.get_output().stdout.clone()).unwrap();
    for header in [
        "====================      GENERATION - SPEED - RESULT       ====================",
        "====================      GENERATION - MEMORY - RESULT      ====================",
    ] {
        assert!(stdout.contains(header), "no {header} in\n{stdout}");
    }
    for column in [
        " TTFT |",
        " TPOT |",
        " E2E |",
        " ITL p50 |",
        "Decode tokens/s",
        "KV cache MB",
    ] {
        assert!(stdout.contains(column), "no {column} in\n{stdout}");
    }
    // Times carry their unit, as in the other sections.
    assert!(
        stdout.contains(" ms |") || stdout.contains(" µs |"),
        "{stdout}"
    );
    assert!(stdout.contains("TPOT = (E2E - TTFT) / (N - 1)"), "{stdout}");
    assert!(
        stdout.contains("bert is an encoder-only model: it does not generate text"),
        "{stdout}"
    );

    let json: Value = serde_json::from_str(&read(&json_path)).unwrap();
    let speed = generation_rows(&json, "speed");
    assert_eq!(speed.len(), 3 * 2, "three models, two batch sizes");
    for row in &speed {
        let (cell, result) = (&row["cell"], &e2e::result(row));
        if cell["model"].as_str().unwrap().contains("tiny-bert") {
            assert_eq!(result["status"], "not_available");
            continue;
        }
        assert_eq!(cell["new_tokens"], 4);
        let g = &result["generation"];
        let requests = g["token_seconds"].as_array().unwrap();
        assert_eq!(requests.len(), 3, "one reading list per timed request: {g}");
        for readings in requests {
            let t: Vec<f64> = readings
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(t.len(), 4);
            assert!(t[0] > 0.0 && t.windows(2).all(|w| w[1] > w[0]), "{t:?}");
        }
        assert_eq!(g["ttft"]["count"], 3);
        assert_eq!(g["itl"]["count"], 3 * 3, "three gaps per request");
        let batch = cell["batch_size"].as_f64().unwrap();
        // Decode throughput and TPOT are one formula read two ways, per request.
        let tpot = g["tpot"]["max"].as_f64().unwrap();
        let rate = g["decode_tokens_per_second"]["min"].as_f64().unwrap();
        assert!((rate * tpot - batch).abs() < 1e-6 * batch, "{tpot} {rate}");
        assert!(result["seconds"].as_f64().unwrap() >= g["ttft"]["min"].as_f64().unwrap());
    }

    // The KV cache: 2 · 2 layers · 2 heads · 16 · tokens · batch · 4 bytes.
    for row in generation_rows(&json, "memory") {
        let (cell, result) = (&row["cell"], &e2e::result(row));
        let model = cell["model"].as_str().unwrap();
        if model.contains("tiny-bert") {
            assert!(result["reason"].as_str().unwrap().contains("encoder-only"));
            continue;
        }
        let batch = cell["batch_size"].as_u64().unwrap();
        let per_token = 2 * 2 * 2 * 16 * batch * 4;
        let kv = &result["kv_cache"];
        let (config, held) = if model == "gpt2-tiny" {
            // Prompt + N in the formula; the cache holds all but the last token.
            (per_token * (8 + 4), per_token * (8 + 3))
        } else {
            // Decoder self-attention over 1 + N (start token and N - 1 fed) plus
            // cross-attention over the 8-token prompt.
            (per_token * (1 + 4 + 8), per_token * (4 + 8))
        };
        assert_eq!(kv["config_bytes"], config, "{model}: {kv}");
        assert_eq!(kv["held_bytes"], held, "{model}: {kv}");
        assert!(result["peak_rss_bytes"].as_u64().unwrap() > 0);
    }

    // CSV files in the original's naming pattern, a line per cell.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("generation_"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    let time = read(&dir.path().join(&names[1]));
    assert!(names[1].starts_with("generation_time_") && names[1].ends_with(".csv"));
    assert!(time.starts_with(
        "model,batch_size,sequence_length,new_tokens,ttft_s,tpot_s,itl_p50_s,itl_p90_s,itl_p99_s,decode_tokens_per_s,end_to_end_s\r\n"
    ));
    assert!(time.contains("\r\ngpt2-tiny,2,8,4,"), "{time}");
    assert_eq!(time.lines().count(), 1 + 6);
    // Every digit measured: the CSV's TTFT is the JSON's.
    let line = time
        .lines()
        .find(|l| l.starts_with("gpt2-tiny,2,8,4,"))
        .unwrap();
    let ttft: f64 = line.split(',').nth(4).unwrap().parse().unwrap();
    let row = generation_rows(&json, "speed")
        .into_iter()
        .find(|r| r["cell"]["model"] == "gpt2-tiny" && r["cell"]["batch_size"] == 2)
        .unwrap();
    assert_eq!(
        ttft,
        row["speed"]["generation"]["ttft"]["median"]
            .as_f64()
            .unwrap()
    );

    // Resume carries every measured generation cell over unchanged.
    let resumed_path = dir.path().join("resumed.json");
    let resumed_run = bin()
        .current_dir(dir.path())
        .env("COLUMNS", "80")
        .args(["--models", GPT2, T5])
        .args(["--batch-sizes", "1", "2", "--sequence-lengths", "8"])
        .args(["--generate", "4", "--no-inference"])
        .args(QUICK)
        .arg("--resume")
        .arg(&json_path)
        .arg("--export-json")
        .arg(&resumed_path)
        .assert()
        .success();
    // At 80 columns the tables fit, leaving the detail out with a note.
    let narrow = String::from_utf8(resumed_run.get_output().stdout.clone()).unwrap();
    assert!(narrow.lines().all(|l| l.chars().count() <= 80), "{narrow}");
    assert!(
        narrow.contains("Left out to fit 80 columns: Decode tokens/s, ITL p50, ITL p90, ITL p99"),
        "{narrow}"
    );
    let resumed: Value = serde_json::from_str(&read(&resumed_path)).unwrap();
    let before: Vec<&Value> = generation_rows(&json, "speed")
        .into_iter()
        .filter(|r| r["status"] == "ok")
        .collect();
    for row in &before {
        assert!(
            generation_rows(&resumed, "speed").contains(row),
            "not carried over: {}",
            row["cell"]["model"]
        );
    }

    // Plot draws the generation cells' time per output token.
    let chart = dir.path().join("tpot.svg");
    bin()
        .args(["plot", "--mode", "generation", "-o"])
        .arg(&chart)
        .arg(&json_path)
        .assert()
        .success();
    let svg = read(&chart);
    assert!(svg.contains("median time per output token"), "{svg}");
    assert!(svg.contains("gpt2-tiny (4 new), batch 2"), "{svg}");
    // The requests' TPOTs spread as a band.
    assert!(svg.contains("interquartile range"), "{svg}");

    // The roofline draws the decode steps under both ceilings, in SVG and PNG.
    let roofline = dir.path().join("roofline.svg");
    bin()
        .args(["plot", "--roofline", "-o"])
        .arg(&roofline)
        .arg(&json_path)
        .assert()
        .success();
    let svg = read(&roofline);
    assert!(svg.contains("gpt2-tiny b2 s8 decode"), "{svg}");
    assert!(svg.contains("GFLOP/s") && svg.contains("GB/s"), "{svg}");
    let png = dir.path().join("roofline.png");
    bin()
        .args(["plot", "--roofline", "-o"])
        .arg(&png)
        .arg(&json_path)
        .assert()
        .success();
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    // Every measured generation row has its decode MBU and verdict in the table.
    assert!(
        json["calibrations"][0]["bandwidth"]["read_bytes_per_second"]
            .as_f64()
            .unwrap()
            > 1e8,
        "{}",
        json["calibrations"]
    );

    // Compare matches generation cells and names them.
    let compared = bin()
        .args(["compare"])
        .arg(&json_path)
        .arg(&resumed_path)
        .assert()
        .success();
    let text = String::from_utf8(compared.get_output().stdout.clone()).unwrap();
    assert!(text.contains("4 new tokens generation time"), "{text}");
}

#[test]
fn new_token_counts_below_one_are_rejected_naming_the_flag() {
    for n in ["0", "-3"] {
        let out = bin()
            .args(["--models", GPT2, "--generate", n])
            .assert()
            .code(2);
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(stderr.contains("--generate"), "{n}: {stderr}");
    }
}

#[test]
fn prompt_and_new_tokens_beyond_the_positions_are_na() {
    let out = bin()
        .args(["--models", GPT2, "--batch-sizes", "1"])
        .args([
            "--sequence-lengths",
            "32",
            "--generate",
            "9",
            "--no-inference",
        ])
        .args(QUICK)
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("prompt 32 + 9 new tokens exceed max_position_embeddings 40"),
        "{stdout}"
    );
}
