# Times lme4::glmer (unweighted, nAGQ=13) for the GLMM benchmark; prints the
# best and the median of the repeats (seconds).
# Usage: Rscript lme4_glmm.R DATA.csv FORMULA FAMILY LINK REPEATS
args <- commandArgs(trailingOnly = TRUE)
suppressMessages(library(lme4))
d <- read.csv(args[1])
d <- d[complete.cases(d[, all.vars(as.formula(args[2]))]), ]
fam <- if (args[3] == "poisson") poisson(link = args[4]) else binomial(link = args[4])
reps <- as.integer(args[5])
times <- numeric(reps)
for (i in seq_len(reps)) {
  t0 <- proc.time()[["elapsed"]]
  m <- glmer(as.formula(args[2]), data = d, family = fam, nAGQ = 13)
  times[i] <- proc.time()[["elapsed"]] - t0
}
cat(sprintf("%.6f %.6f\n", min(times), median(times)))
