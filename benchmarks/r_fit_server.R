# A long-lived R session that times lme4 and glmmTMB fits on request, for
# benchmarks that interleave R's fits with pywemix's (benchmarks/rserver.py).
#
# Usage: Rscript benchmarks/r_fit_server.R   (commands on stdin, one per line;
# every answer is one line on stdout, starting with "ok" or "error")
#
#   load PATH VARS            read a CSV, keep the complete rows of the
#                             comma-separated VARS, character columns as
#                             factors with sorted levels (pywemix's order)
#   case ID JSON              define a fit: {"fun": "lmer" | "glmer" | "glmmTMB",
#                             "formula": ..., "family": "binomial" | "poisson",
#                             "link": ..., "nAGQ": 1, "REML": false,
#                             "tolPwrss": 1e-13 (optional, glmer)}
#   time ID N                 fit N times; answer "ok t1 ... tN c1 ... cN": wall
#                             seconds of each fit (high-resolution clock, the
#                             fit call only), then its CPU seconds (user + system)
#   result ID                 answer "ok JSON" with logLik, fixef and the
#                             number of function evaluations of the last fit
#   quit
suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(jsonlite)
})

clock <- if (requireNamespace("bench", quietly = TRUE)) {
  function() as.numeric(bench::hires_time())
} else {
  function() as.numeric(Sys.time())
}

data <- NULL
cases <- list()
last <- list()

fit_case <- function(spec) {
  f <- as.formula(spec$formula)
  if (spec$fun == "lmer") {
    return(lmer(f, data = data, REML = isTRUE(spec$REML)))
  }
  fam <- switch(spec$family,
                binomial = binomial(link = if (is.null(spec$link)) "logit" else spec$link),
                poisson = poisson(link = if (is.null(spec$link)) "log" else spec$link))
  if (spec$fun == "glmer") {
    ctrl <- if (is.null(spec$tolPwrss)) glmerControl() else
      glmerControl(tolPwrss = spec$tolPwrss)
    return(glmer(f, data = data, family = fam,
                 nAGQ = if (is.null(spec$nAGQ)) 1L else as.integer(spec$nAGQ),
                 control = ctrl))
  }
  glmmTMB(f, data = data, family = fam)
}

summary_of <- function(m) {
  fe <- if (inherits(m, "glmmTMB")) fixef(m)$cond else fixef(m)
  list(logLik = as.numeric(logLik(m)), fixef = as.list(fe))
}

con <- file("stdin", open = "r")
repeat {
  line <- readLines(con, n = 1)
  if (length(line) == 0) break
  parts <- strsplit(line, " ", fixed = TRUE)[[1]]
  cmd <- parts[1]
  if (cmd == "quit") break
  answer <- tryCatch({
    if (cmd == "load") {
      d <- read.csv(parts[2], stringsAsFactors = FALSE)
      vars <- strsplit(parts[3], ",", fixed = TRUE)[[1]]
      d <- d[complete.cases(d[, vars]), vars]
      for (v in vars) {
        if (is.character(d[[v]])) {
          d[[v]] <- factor(d[[v]], levels = sort(unique(d[[v]]), method = "radix"))
        }
      }
      data <- d
      paste("ok", nrow(d))
    } else if (cmd == "case") {
      cases[[parts[2]]] <- fromJSON(paste(parts[-(1:2)], collapse = " "))
      "ok"
    } else if (cmd == "time") {
      spec <- cases[[parts[2]]]
      n <- as.integer(parts[3])
      times <- numeric(n)
      cpu <- numeric(n)
      for (i in seq_len(n)) {
        c0 <- proc.time()
        t0 <- clock()
        m <- suppressWarnings(suppressMessages(fit_case(spec)))
        times[i] <- clock() - t0
        cpu[i] <- sum((proc.time() - c0)[c(1, 2)])
      }
      last[[parts[2]]] <- m
      paste("ok", paste(sprintf("%.9f", c(times, cpu)), collapse = " "))
    } else if (cmd == "result") {
      paste("ok", toJSON(summary_of(last[[parts[2]]]), auto_unbox = TRUE, digits = NA))
    } else {
      paste("error unknown command", cmd)
    }
  }, error = function(e) paste("error", gsub("\n", " ", conditionMessage(e))))
  cat(answer, "\n", sep = "")
  flush(stdout())
}
